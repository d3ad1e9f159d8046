package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Measures several runtimes one after another with the same {@link BenchmarkProtocol} and the same
 * settings (warm-up, runs; the caller gives every target the same input and thread count), for the
 * side-by-side report. A target that fails (its native library does not load, the file is
 * refused, ...) is reported as failed and the others still run; cancellation stops everything at
 * once.
 */
public final class BenchmarkSuite {

  /** One runtime to measure. */
  public interface Target {
    /** For progress and errors, e.g. "ExecuTorch". */
    String name();

    /**
     * Untimed preparation (copy the model file, load the runtime's native libraries, check what
     * can be checked), then the loader whose {@code load()} the protocol times. An exception here
     * is this target's failure.
     */
    BenchmarkProtocol.Loader loader() throws Exception;
  }

  /** Overall progress across all targets; called on the benchmarking thread. */
  public interface Progress {
    /**
     * @param target index of the target being measured
     * @param name its name
     * @param phase "load", "first", "warmup" or "timed"
     * @param done of {@code total} in that phase
     * @param permille overall progress 0..1000 across all targets
     */
    void onProgress(int target, String name, String phase, int done, int total, int permille);
  }

  /** The result for one target: a measurement or the error that stopped it. */
  public static final class Outcome<T extends Target> {
    public final T target;
    public final BenchmarkProtocol.Measurement measurement;
    public final Exception error;

    Outcome(T target, BenchmarkProtocol.Measurement measurement, Exception error) {
      this.target = target;
      this.measurement = measurement;
      this.error = error;
    }

    public boolean ok() {
      return measurement != null;
    }
  }

  private BenchmarkSuite() {}

  /**
   * Measures each target in order.
   *
   * @throws CancelFlag.CancelledException as soon as {@code cancel} is seen; no outcome is returned
   */
  public static <T extends Target> List<Outcome<T>> run(
      List<T> targets, int warmup, int runs, BenchmarkProtocol.Clock clock, Progress progress,
      CancelFlag cancel) throws CancelFlag.CancelledException {
    if (targets == null || targets.isEmpty()) throw new IllegalArgumentException("no targets");
    final int n = targets.size();
    final int perTarget = BenchmarkProtocol.inferenceCount(warmup, runs);
    List<Outcome<T>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      cancel.throwIfCancelled();
      final T target = targets.get(i);
      final int index = i;
      BenchmarkProtocol.Progress p =
          progress == null
              ? null
              : (phase, done, total) ->
                  progress.onProgress(
                      index, target.name(), phase, done, total,
                      permille(index, n, inferencesDone(phase, done, warmup), perTarget));
      try {
        out.add(
            new Outcome<>(
                target,
                BenchmarkProtocol.measure(target.loader(), warmup, runs, clock, p, cancel),
                null));
      } catch (CancelFlag.CancelledException e) {
        throw e;
      } catch (Exception e) {
        out.add(new Outcome<>(target, null, e));
      }
    }
    return Collections.unmodifiableList(out);
  }

  /** Inferences finished within one target when {@code phase} reports {@code done}. */
  static int inferencesDone(String phase, int done, int warmup) {
    switch (phase) {
      case "load":
        return 0;
      case "first":
        return done;
      case "warmup":
        return 1 + done;
      default:
        return 1 + warmup + done;
    }
  }

  /** Overall progress in 0..1000 with {@code done} of {@code perTarget} in target {@code index}. */
  static int permille(int index, int targets, int done, int perTarget) {
    long total = (long) targets * perTarget;
    long sofar = (long) index * perTarget + Math.min(done, perTarget);
    return total <= 0 ? 0 : (int) (sofar * 1000 / total);
  }
}
