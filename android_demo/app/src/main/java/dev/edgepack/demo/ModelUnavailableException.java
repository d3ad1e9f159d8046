package dev.edgepack.demo;

/** The model can't be used; the message is shown to the user as is. */
final class ModelUnavailableException extends Exception {
  private static final long serialVersionUID = 1L;

  enum Kind {
    /** No model.ptl in the app's assets. */
    MISSING,
    /** model.ptl is not a PyTorch lite-interpreter file. */
    NOT_A_MODEL,
    /** No manifest, or a manifest the app can't work with. */
    INCOMPATIBLE,
    /** PyTorch's native libraries don't load on this device. */
    NATIVE_LIBRARY,
    /** The runtime refused the file. */
    LOAD_FAILED,
    /** Copying the asset failed. */
    IO
  }

  private final Kind kind;

  ModelUnavailableException(Kind kind, String message) {
    this(kind, message, null);
  }

  ModelUnavailableException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  Kind getKind() {
    return kind;
  }
}
