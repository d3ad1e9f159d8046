package dev.edgepack.demo.core;

/**
 * The model's manifest is missing, unreadable or incompatible. The message is meant for the user.
 * {@link #getCheck()} is non-null when the manifest parsed but failed the compatibility check.
 */
public class ManifestException extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient ManifestCheck check;

  public ManifestException(String message) {
    this(message, null, null);
  }

  public ManifestException(String message, Throwable cause) {
    this(message, null, cause);
  }

  public ManifestException(String message, ManifestCheck check, Throwable cause) {
    super(message, cause);
    this.check = check;
  }

  public ManifestCheck getCheck() {
    return check;
  }
}
