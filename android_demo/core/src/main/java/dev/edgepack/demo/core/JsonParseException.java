package dev.edgepack.demo.core;

/** Malformed JSON text; {@link #getOffset()} is the character offset where reading stopped. */
public final class JsonParseException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final int offset;

  public JsonParseException(String message, int offset) {
    super(message + " (at character " + offset + ")");
    this.offset = offset;
  }

  public int getOffset() {
    return offset;
  }
}
