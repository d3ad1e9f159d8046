package dev.edgepack.demo.core;

/**
 * A cancellation request shared between the thread that asks (the UI, e.g. a ViewModel's
 * {@code onCleared}) and the thread doing the work, which polls it between steps. Thread-safe;
 * once cancelled it stays cancelled.
 */
public final class CancelFlag {
  private volatile boolean cancelled;

  public void cancel() {
    cancelled = true;
  }

  public boolean isCancelled() {
    return cancelled;
  }

  /** Throws {@link CancelledException} when cancelled. */
  public void throwIfCancelled() throws CancelledException {
    if (cancelled) throw new CancelledException();
  }

  /** The work stopped because its {@link CancelFlag} was cancelled. */
  public static final class CancelledException extends Exception {
    private static final long serialVersionUID = 1L;

    public CancelledException() {
      super("cancelled");
    }
  }
}
