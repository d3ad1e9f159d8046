package dev.edgepack.demo.core;

import java.util.Arrays;

/**
 * Summary statistics of latencies in milliseconds. Percentiles use numpy's default definition
 * ({@code method="linear"}): for sorted x of length n, the p-th percentile sits at rank
 * (n-1)*p/100, linearly interpolated between its neighbours — the same as {@code edgepack bench}.
 */
public final class LatencyStats {
  private final int count;
  private final double min;
  private final double max;
  private final double mean;
  private final double p50;
  private final double p90;
  private final double p99;
  private final double stdev;

  private LatencyStats(double[] sorted) {
    this.count = sorted.length;
    this.min = sorted[0];
    this.max = sorted[sorted.length - 1];
    double sum = 0;
    for (double v : sorted) sum += v;
    this.mean = sum / sorted.length;
    double sq = 0;
    for (double v : sorted) sq += (v - mean) * (v - mean);
    this.stdev = Math.sqrt(sq / sorted.length); // population, like numpy.std's default
    this.p50 = percentileOfSorted(sorted, 50);
    this.p90 = percentileOfSorted(sorted, 90);
    this.p99 = percentileOfSorted(sorted, 99);
  }

  /** Statistics of the given samples (not modified). At least one sample, all finite. */
  public static LatencyStats of(double[] samplesMs) {
    if (samplesMs == null || samplesMs.length == 0) {
      throw new IllegalArgumentException("no latency samples");
    }
    for (double v : samplesMs) {
      if (Double.isNaN(v) || Double.isInfinite(v)) {
        throw new IllegalArgumentException("latency samples must be finite, got " + v);
      }
    }
    double[] sorted = samplesMs.clone();
    Arrays.sort(sorted);
    return new LatencyStats(sorted);
  }

  /** The p-th percentile (0..100) of unsorted samples, numpy-compatible. */
  public static double percentile(double[] samples, double p) {
    if (samples == null || samples.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    double[] sorted = samples.clone();
    Arrays.sort(sorted);
    return percentileOfSorted(sorted, p);
  }

  /**
   * The p-th percentile of ascending {@code sorted}. Follows numpy's arithmetic step by step
   * (virtual index, then numpy's two-sided lerp) so results match {@code numpy.percentile} to the
   * last bit in the usual cases.
   */
  public static double percentileOfSorted(double[] sorted, double p) {
    if (Double.isNaN(p) || p < 0 || p > 100) {
      throw new IllegalArgumentException("percentile must be in [0, 100], got " + p);
    }
    int n = sorted.length;
    if (n == 0) throw new IllegalArgumentException("no samples");
    double q = p / 100.0;
    // numpy's "linear" method: virtual index (n - 1) * q, with q = p / 100 as numpy divides
    double virtualIndex = (n - 1) * q;
    if (virtualIndex >= n - 1) return sorted[n - 1];
    if (virtualIndex < 0) return sorted[0];
    int lo = (int) Math.floor(virtualIndex);
    double a = sorted[lo];
    double b = sorted[lo + 1];
    double t = virtualIndex - lo;
    double diff = b - a;
    // numpy._lerp: a + diff*t, but b - diff*(1-t) for t >= 0.5 (more accurate near b)
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
  }

  public int getCount() {
    return count;
  }

  public double getMin() {
    return min;
  }

  public double getMax() {
    return max;
  }

  public double getMean() {
    return mean;
  }

  public double getP50() {
    return p50;
  }

  public double getP90() {
    return p90;
  }

  public double getP99() {
    return p99;
  }

  /** Population standard deviation. */
  public double getStdev() {
    return stdev;
  }
}
