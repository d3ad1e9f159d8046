package dev.edgepack.demo.core;

/**
 * The benchmark procedure, independent of the runtime: time one load, time the first inference,
 * run {@code warmup} untimed inferences, then time {@code runs} inferences one by one.
 */
public final class BenchmarkProtocol {

  /** Loads the model; returns something that runs one inference. */
  public interface Loader {
    Session load() throws Exception;
  }

  /** One loaded model. */
  public interface Session {
    void runOnce() throws Exception;
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

  public static Measurement measure(Loader loader, int warmup, int runs, Clock clock, Progress progress)
      throws Exception {
    if (warmup < 0) throw new IllegalArgumentException("warmup must be >= 0");
    if (runs < 1) throw new IllegalArgumentException("runs must be >= 1");
    report(progress, "load", 0, 1);
    long t0 = clock.nanoTime();
    Session session = loader.load();
    long t1 = clock.nanoTime();
    report(progress, "load", 1, 1);

    report(progress, "first", 0, 1);
    long t2 = clock.nanoTime();
    session.runOnce();
    long t3 = clock.nanoTime();
    report(progress, "first", 1, 1);

    for (int i = 0; i < warmup; i++) {
      session.runOnce();
      report(progress, "warmup", i + 1, warmup);
    }
    double[] times = new double[runs];
    for (int i = 0; i < runs; i++) {
      long s = clock.nanoTime();
      session.runOnce();
      long e = clock.nanoTime();
      times[i] = (e - s) / 1e6;
      report(progress, "timed", i + 1, runs);
    }
    return new Measurement((t1 - t0) / 1e6, (t3 - t2) / 1e6, times, warmup);
  }

  private static void report(Progress p, String phase, int done, int total) {
    if (p != null) p.onProgress(phase, done, total);
  }
}
