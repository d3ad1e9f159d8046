package dev.edgepack.demo.core;

/**
 * The benchmark procedure, independent of the runtime: time one load, time the first inference,
 * run {@code warmup} untimed inferences, then time {@code runs} inferences one by one. The same
 * procedure measures every runtime, so their figures compare.
 *
 * <p>Cancellable: the {@link CancelFlag} is checked before loading and after every inference, so a
 * cancelled benchmark stops after at most one more inference, and the loaded session is always
 * closed (on success, failure and cancellation), so no second model copy outlives the benchmark.
 */
public final class BenchmarkProtocol {

  /** Loads the model; returns something that runs one inference. */
  public interface Loader {
    Session load() throws Exception;
  }

  /** One loaded model. */
  public interface Session {
    void runOnce() throws Exception;

    /** Releases the model; called once by {@link #measure} when it is done with the session. */
    default void close() {}
  }

  /** A monotonic clock in nanoseconds (System::nanoTime in the app, fake in tests). */
  public interface Clock {
    long nanoTime();
  }

  /** Progress callback; may be null. Called from the benchmarking thread. */
  public interface Progress {
    /** @param phase "load", "first", "warmup" or "timed"; done of total in that phase */
    void onProgress(String phase, int done, int total);
  }

  /** Raw measurements. */
  public static final class Measurement {
    public final double loadMs;
    public final double firstInferenceMs;
    public final double[] runsMs;
    public final int warmup;

    Measurement(double loadMs, double firstInferenceMs, double[] runsMs, int warmup) {
      this.loadMs = loadMs;
      this.firstInferenceMs = firstInferenceMs;
      this.runsMs = runsMs;
      this.warmup = warmup;
    }
  }

  private BenchmarkProtocol() {}

  /** {@link #measure(Loader, int, int, Clock, Progress, CancelFlag)} that cannot be cancelled. */
  public static Measurement measure(Loader loader, int warmup, int runs, Clock clock, Progress progress)
      throws Exception {
    return measure(loader, warmup, runs, clock, progress, new CancelFlag());
  }

  /**
   * Runs the protocol.
   *
   * @throws CancelFlag.CancelledException when {@code cancel} was set; the session (if loaded) is
   *     closed first
   */
  public static Measurement measure(
      Loader loader, int warmup, int runs, Clock clock, Progress progress, CancelFlag cancel)
      throws Exception {
    if (warmup < 0) throw new IllegalArgumentException("warmup must be >= 0");
    if (runs < 1) throw new IllegalArgumentException("runs must be >= 1");
    if (cancel == null) throw new IllegalArgumentException("cancel flag is required");
    cancel.throwIfCancelled();
    report(progress, "load", 0, 1);
    long t0 = clock.nanoTime();
    Session session = loader.load();
    long t1 = clock.nanoTime();
    try {
      report(progress, "load", 1, 1);
      cancel.throwIfCancelled();

      report(progress, "first", 0, 1);
      long t2 = clock.nanoTime();
      session.runOnce();
      long t3 = clock.nanoTime();
      report(progress, "first", 1, 1);

      for (int i = 0; i < warmup; i++) {
        cancel.throwIfCancelled();
        session.runOnce();
        report(progress, "warmup", i + 1, warmup);
      }
      double[] times = new double[runs];
      for (int i = 0; i < runs; i++) {
        cancel.throwIfCancelled();
        long s = clock.nanoTime();
        session.runOnce();
        long e = clock.nanoTime();
        times[i] = (e - s) / 1e6;
        report(progress, "timed", i + 1, runs);
      }
      return new Measurement((t1 - t0) / 1e6, (t3 - t2) / 1e6, times, warmup);
    } finally {
      session.close();
    }
  }

  /** Inferences the protocol runs in all (first + warm-up + timed), for progress bars. */
  public static int inferenceCount(int warmup, int runs) {
    return 1 + warmup + runs;
  }

  private static void report(Progress p, String phase, int done, int total) {
    if (p != null) p.onProgress(phase, done, total);
  }
}
