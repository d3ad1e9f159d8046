package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class BenchmarkTest {
  /** The keys `edgepack bench --json` writes that the app must write with the same names. */
  private static final List<String> BENCH_KEYS =
      Arrays.asList(
          "load_ms", "first_inference_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms",
          "runs", "warmup", "threads");

  private static BenchmarkResult sample() {
    return BenchmarkResult.builder()
        .loadMs(123.45678)
        .firstInferenceMs(88.0)
        .timings(new double[] {4.0, 2.0, 3.0, 1.0})
        .warmup(5)
        .threads(1)
        .device("Google Pixel 8 (Android 15, API 35, arm64-v8a)")
        .runtime(ModelFormat.PTL.runtimeName())
        .fileSizeBytes(44_800_123L)
        .modelSha256("ab".repeat(32))
        .extra("input_shape", Arrays.asList(480, 640, 4))
        .extra("runs", 999) // must not override a standard key
        .build();
  }

  @Test
  public void jsonUsesBenchFieldNames() {
    Map<String, Object> m = Json.parseObject(sample().toJson());
    for (String key : BENCH_KEYS) {
      assertTrue("missing " + key, m.containsKey(key));
    }
    assertEquals(123.457, m.get("load_ms"));
    assertEquals(88.0, m.get("first_inference_ms"));
    assertEquals(2.5, m.get("p50_ms"));
    assertEquals(3.7, m.get("p90_ms"));
    assertEquals(3.97, m.get("p99_ms"));
    assertEquals(2.5, m.get("mean_ms"));
    assertEquals(1.0, m.get("min_ms"));
    assertEquals(4L, m.get("runs"));
    assertEquals(5L, m.get("warmup"));
    assertEquals(1L, m.get("threads"));
    assertEquals("pytorch_android_lite 2.1.0", m.get("runtime"));
    assertEquals("Google Pixel 8 (Android 15, API 35, arm64-v8a)", m.get("device"));
    assertEquals(44_800_123L, m.get("file_size_bytes"));
    assertEquals(64, ((String) m.get("model_sha256")).length());
    assertEquals(Arrays.asList(480L, 640L, 4L), m.get("input_shape"));
  }

  @Test
  public void msValuesAreFloatsEvenWhenWhole() {
    String json = sample().toJson();
    assertTrue(json, json.contains("\"first_inference_ms\": 88.0"));
    assertTrue(json, json.contains("\"runs\": 4,"));
  }

  @Test
  public void shaOmittedWhenUnknown() {
    BenchmarkResult r =
        BenchmarkResult.builder().runtime("x").timings(new double[] {1}).build();
    Map<String, Object> m = Json.parseObject(r.toJson());
    assertFalse(m.containsKey("model_sha256"));
    assertTrue(m.containsKey("load_ms"));
    assertEquals(null, m.get("load_ms")); // NaN (not measured) is written as null
  }

  @Test(expected = IllegalStateException.class)
  public void statsRequired() {
    BenchmarkResult.builder().runtime("x").build();
  }

  @Test(expected = IllegalStateException.class)
  public void runtimeRequired() {
    BenchmarkResult.builder().timings(new double[] {1}).build();
  }

  @Test
  public void displayTextMentionsPercentiles() {
    String t = sample().toDisplayText();
    assertTrue(t, t.contains("p90: 3.70 ms"));
    assertTrue(t, t.contains("threads: 1"));
  }

  @Test
  public void protocolTimesLoadFirstWarmupAndRuns() throws Exception {
    final long[] now = {0};
    final List<String> events = new ArrayList<>();
    final int[] calls = {0};
    BenchmarkProtocol.Clock clock = () -> now[0];
    BenchmarkProtocol.Loader loader =
        () -> {
          now[0] += 50_000_000L; // load takes 50 ms
          events.add("load");
          return () -> {
            calls[0]++;
            now[0] += calls[0] == 1 ? 30_000_000L : calls[0] * 1_000_000L;
          };
        };
    List<String> progress = new ArrayList<>();
    BenchmarkProtocol.Measurement m =
        BenchmarkProtocol.measure(loader, 2, 3, clock, (p, d, t) -> progress.add(p + d + "/" + t));
    assertEquals(50.0, m.loadMs, 1e-9);
    assertEquals(30.0, m.firstInferenceMs, 1e-9);
    assertEquals(1 + 2 + 3, calls[0]);
    // calls 2,3 are warm-up; 4,5,6 are timed
    assertEquals(Arrays.toString(new double[] {4, 5, 6}), Arrays.toString(m.runsMs));
    assertEquals(2, m.warmup);
    assertEquals(Arrays.asList("load"), events);
    assertEquals(
        Arrays.asList(
            "load0/1", "load1/1", "first0/1", "first1/1", "warmup1/2", "warmup2/2", "timed1/3",
            "timed2/3", "timed3/3"),
        progress);
  }

  @Test(expected = IllegalArgumentException.class)
  public void protocolNeedsRuns() throws Exception {
    BenchmarkProtocol.measure(() -> () -> {}, 0, 0, System::nanoTime, null);
  }
}
