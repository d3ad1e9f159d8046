package dev.edgepack.demo.core;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One on-device benchmark, serialised with the field names {@code edgepack bench --json} uses:
 * {@code load_ms, first_inference_ms, p50_ms, p90_ms, p99_ms, mean_ms, min_ms, runs, warmup,
 * threads}, plus {@code runtime} (which runtime measured it, e.g. {@link
 * ModelFormat#runtimeName()}; required), {@code device, file_size_bytes, model_sha256} and any
 * extras. Millisecond values are rounded to microseconds (3 decimals).
 */
public final class BenchmarkResult {

  private final double loadMs;
  private final double firstInferenceMs;
  private final LatencyStats stats;
  private final int warmup;
  private final int threads;
  private final String device;
  private final String runtime;
  private final long fileSizeBytes;
  private final String modelSha256;
  private final Map<String, Object> extras;

  private BenchmarkResult(Builder b) {
    this.loadMs = b.loadMs;
    this.firstInferenceMs = b.firstInferenceMs;
    this.stats = b.stats;
    this.warmup = b.warmup;
    this.threads = b.threads;
    this.device = b.device;
    this.runtime = b.runtime;
    this.fileSizeBytes = b.fileSizeBytes;
    this.modelSha256 = b.modelSha256;
    this.extras = new LinkedHashMap<>(b.extras);
  }

  public static Builder builder() {
    return new Builder();
  }

  public double getLoadMs() {
    return loadMs;
  }

  public double getFirstInferenceMs() {
    return firstInferenceMs;
  }

  public LatencyStats getStats() {
    return stats;
  }

  public int getRuns() {
    return stats.getCount();
  }

  public int getWarmup() {
    return warmup;
  }

  public int getThreads() {
    return threads;
  }

  public String getDevice() {
    return device;
  }

  public String getRuntime() {
    return runtime;
  }

  public long getFileSizeBytes() {
    return fileSizeBytes;
  }

  public String getModelSha256() {
    return modelSha256;
  }

  /** Rounds to 3 decimals; NaN/infinite (not measured) stay as they are and are written as null. */
  static double roundMs(double ms) {
    if (Double.isNaN(ms) || Double.isInfinite(ms)) return ms;
    return Math.round(ms * 1000.0) / 1000.0;
  }

  /** The result as an ordered map (what {@link #toJson()} writes). */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("runtime", runtime);
    m.put("device", device);
    m.put("threads", threads);
    m.put("warmup", warmup);
    m.put("runs", stats.getCount());
    m.put("load_ms", roundMs(loadMs));
    m.put("first_inference_ms", roundMs(firstInferenceMs));
    m.put("mean_ms", roundMs(stats.getMean()));
    m.put("min_ms", roundMs(stats.getMin()));
    m.put("p50_ms", roundMs(stats.getP50()));
    m.put("p90_ms", roundMs(stats.getP90()));
    m.put("p99_ms", roundMs(stats.getP99()));
    m.put("file_size_bytes", fileSizeBytes);
    if (modelSha256 != null) m.put("model_sha256", modelSha256);
    for (Map.Entry<String, Object> e : extras.entrySet()) {
      if (!m.containsKey(e.getKey())) m.put(e.getKey(), e.getValue());
    }
    return m;
  }

  /** Pretty JSON (2-space indent), one document. */
  public String toJson() {
    return Json.writePretty(toMap(), 2);
  }

  /** A few lines for the screen. */
  public String toDisplayText() {
    StringBuilder sb = new StringBuilder();
    sb.append("load: ").append(LabelFormat.millis(loadMs)).append('\n');
    sb.append("first inference: ").append(LabelFormat.millis(firstInferenceMs)).append('\n');
    sb.append("p50: ").append(LabelFormat.millis(stats.getP50()))
        .append("   p90: ").append(LabelFormat.millis(stats.getP90()))
        .append("   p99: ").append(LabelFormat.millis(stats.getP99())).append('\n');
    sb.append("mean: ").append(LabelFormat.millis(stats.getMean()))
        .append("   min: ").append(LabelFormat.millis(stats.getMin())).append('\n');
    sb.append("runs: ").append(stats.getCount())
        .append("   warm-up: ").append(warmup)
        .append("   threads: ").append(threads);
    return sb.toString();
  }

  /** Builder; {@code stats} and {@code runtime} are required. */
  public static final class Builder {
    private double loadMs = Double.NaN;
    private double firstInferenceMs = Double.NaN;
    private LatencyStats stats;
    private int warmup;
    private int threads = 1;
    private String device = "unknown";
    private String runtime;
    private long fileSizeBytes = -1;
    private String modelSha256;
    private final Map<String, Object> extras = new LinkedHashMap<>();

    public Builder loadMs(double v) { this.loadMs = v; return this; }

    public Builder firstInferenceMs(double v) { this.firstInferenceMs = v; return this; }

    public Builder stats(LatencyStats v) { this.stats = v; return this; }

    /** Convenience: statistics of the timed runs. */
    public Builder timings(double[] runsMs) { this.stats = LatencyStats.of(runsMs); return this; }

    public Builder warmup(int v) { this.warmup = v; return this; }

    public Builder threads(int v) { this.threads = v; return this; }

    public Builder device(String v) { this.device = v; return this; }

    public Builder runtime(String v) { this.runtime = v; return this; }

    public Builder fileSizeBytes(long v) { this.fileSizeBytes = v; return this; }

    public Builder modelSha256(String v) { this.modelSha256 = v; return this; }

    /** Extra keys written after the standard ones (never overriding them). */
    public Builder extra(String key, Object value) { this.extras.put(key, value); return this; }

    public BenchmarkResult build() {
      if (stats == null) throw new IllegalStateException("stats (timed runs) are required");
      if (runtime == null || runtime.isEmpty()) {
        throw new IllegalStateException("runtime is required (which runtime measured this)");
      }
      return new BenchmarkResult(this);
    }
  }
}
