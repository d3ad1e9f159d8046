package dev.edgepack.demo.core;

/**
 * Decides when a classification request (a photo or picked image) runs, so none is lost: a
 * request that arrives while the model is still (re)loading — e.g. a camera result delivered to a
 * freshly restarted app after Android killed it while the camera was open — is kept and started
 * once the model is ready; one that arrives while another classification runs waits for it. Only
 * the newest waiting request is kept (a newer photo replaces an older one that never ran).
 *
 * <p>Not thread-safe: call from one thread (the app's UI thread).
 */
public final class RequestGate<T> {

  /** What happens to a submitted request. */
  public enum Decision {
    /** Start it now; the gate is busy until {@link #finished()}. */
    START,
    /** Kept until the model is ready. */
    WAIT_FOR_MODEL,
    /** Kept until the running classification finishes. */
    WAIT_FOR_BUSY,
    /** The model failed to load: it can't run (the caller tells the user). */
    REFUSED
  }

  private enum Model {
    LOADING,
    READY,
    FAILED
  }

  private Model model = Model.LOADING;
  private boolean busy;
  private T pending;

  /** Submits a request (not null). */
  public Decision submit(T request) {
    if (request == null) throw new IllegalArgumentException("request is null");
    switch (model) {
      case FAILED:
        return Decision.REFUSED;
      case LOADING:
        pending = request;
        return Decision.WAIT_FOR_MODEL;
      default:
        if (busy) {
          pending = request;
          return Decision.WAIT_FOR_BUSY;
        }
        busy = true;
        return Decision.START;
    }
  }

  /**
   * The model is being (re)loaded (at start, or when the user switches runtime). Requests wait. A
   * running classification may still finish; nothing new starts until {@link #modelReady()}.
   */
  public void modelLoading() {
    model = Model.LOADING;
  }

  /** The model is ready: returns the waiting request to start now (the gate is then busy), or null. */
  public T modelReady() {
    model = Model.READY;
    return startPending();
  }

  /** The model failed to load: returns the waiting request, which is dropped (to tell the user), or null. */
  public T modelFailed() {
    model = Model.FAILED;
    T dropped = pending;
    pending = null;
    return dropped;
  }

  /** The running classification finished: returns the next request to start now, or null. */
  public T finished() {
    busy = false;
    return model == Model.READY ? startPending() : null;
  }

  private T startPending() {
    if (busy || pending == null) return null;
    T next = pending;
    pending = null;
    busy = true;
    return next;
  }

  /** The request waiting to run, or null. */
  public T getPending() {
    return pending;
  }

  public boolean isBusy() {
    return busy;
  }

  public boolean isModelReady() {
    return model == Model.READY;
  }

  public boolean isModelLoading() {
    return model == Model.LOADING;
  }
}
