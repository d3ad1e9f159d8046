package dev.edgepack.demo;

/** The model can't be used; the message is shown to the user as is. */
final class ModelUnavailableException extends Exception {
  private static final long serialVersionUID = 1L;

  enum Kind {
    /** No model file in the app's assets (or none this build can run). */
    MISSING,
    /** The file is not a model of its format (wrong header, not a zip, ...). */
    NOT_A_MODEL,
    /** No manifest, or a manifest the app can't work with. */
    INCOMPATIBLE,
    /** The runtime's native libraries don't load on this device. */
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

  /** The first line of a (native) error message, for user-facing text. */
  static String firstLine(String s) {
    if (s == null) return "unknown error";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
