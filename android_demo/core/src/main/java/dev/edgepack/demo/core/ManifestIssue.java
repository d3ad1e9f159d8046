package dev.edgepack.demo.core;

/** One finding of {@link Manifest#check()}: an error (model unusable) or a warning. */
public final class ManifestIssue {

  /** ERROR: the app refuses the model. WARNING: the app runs it and shows the note. */
  public enum Severity {
    ERROR,
    WARNING
  }

  /** Stable identifiers, for tests and for code that reacts to a specific problem. */
  public enum Code {
    SCHEMA_MISSING(Severity.ERROR),
    SCHEMA_INVALID(Severity.ERROR),
    SCHEMA_TOO_NEW(Severity.ERROR),
    FORMAT_UNSUPPORTED(Severity.ERROR),
    FORMAT_MISMATCH(Severity.ERROR),
    EXECUTORCH_INVALID(Severity.ERROR),
    TASK_MISSING(Severity.ERROR),
    TASK_UNSUPPORTED(Severity.ERROR),
    INPUT_MISSING(Severity.ERROR),
    INPUT_FLOAT_TENSOR(Severity.ERROR),
    INPUT_KIND_UNSUPPORTED(Severity.ERROR),
    INPUT_DTYPE_UNSUPPORTED(Severity.ERROR),
    INPUT_LAYOUT_UNSUPPORTED(Severity.ERROR),
    INPUT_CHANNELS_UNSUPPORTED(Severity.ERROR),
    INPUT_COLOR_UNSUPPORTED(Severity.ERROR),
    INPUT_SIDES_INVALID(Severity.ERROR),
    OUTPUT_MISSING(Severity.ERROR),
    OUTPUT_KIND_UNSUPPORTED(Severity.ERROR),
    OUTPUT_DTYPE_UNSUPPORTED(Severity.ERROR),
    OUTPUT_NUM_CLASSES_INVALID(Severity.ERROR),
    /** A segmentation output whose shape or resolution the app can't map onto the photo. */
    OUTPUT_SHAPE_INVALID(Severity.ERROR),
    /** Per-class maps without a resize policy the app knows (squash / letterbox). */
    RESIZE_POLICY_UNSUPPORTED(Severity.ERROR),
    LABELS_INVALID(Severity.ERROR),
    LABELS_COUNT_MISMATCH(Severity.ERROR),
    BYTECODE_UNSUPPORTED(Severity.ERROR),
    LABELS_MISSING(Severity.WARNING),
    OUTPUT_LOGITS(Severity.WARNING),
    ACTIVATION_MISMATCH(Severity.WARNING),
    VALIDATION_NOT_PASSED(Severity.WARNING),
    EXECUTORCH_VERSION_UNKNOWN(Severity.WARNING),
    EXECUTORCH_VERSION_UNCERTAIN(Severity.WARNING);

    public final Severity severity;

    Code(Severity severity) {
      this.severity = severity;
    }
  }

  private final Code code;
  private final String message;

  public ManifestIssue(Code code, String message) {
    this.code = code;
    this.message = message;
  }

  public Code getCode() {
    return code;
  }

  public Severity getSeverity() {
    return code.severity;
  }

  public boolean isError() {
    return code.severity == Severity.ERROR;
  }

  /** A sentence for the user, saying what is wrong and, where there is one, what to do. */
  public String getMessage() {
    return message;
  }

  @Override
  public String toString() {
    return code.severity + " " + code + ": " + message;
  }
}
