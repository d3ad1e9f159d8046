package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class BenchmarkReportTest {
  private static final List<String> BENCH_KEYS =
      Arrays.asList(
          "load_ms", "first_inference_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms",
          "runs", "warmup", "threads", "runtime");

  private static BenchmarkResult result(ModelFormat f, double[] timings, double loadMs) {
    return BenchmarkResult.builder()
        .runtime(f.runtimeName())
        .loadMs(loadMs)
        .firstInferenceMs(40)
        .timings(timings)
        .warmup(10)
        .threads(1)
        .fileSizeBytes(12_345_678L)
        .extra("format", f.jsonName)
        .extra("model", f.assetName())
        .build();
  }

  @Test
  public void oneResultIsAnObjectSeveralAnArray() {
    BenchmarkResult pte = result(ModelFormat.PTE, new double[] {10, 12, 11}, 35.2);
    BenchmarkResult ptl = result(ModelFormat.PTL, new double[] {20, 22, 21}, 212.3);
    Object one = Json.parse(BenchmarkReport.toJson(Collections.singletonList(pte)));
    assertTrue(one instanceof Map);
    Object two = Json.parse(BenchmarkReport.toJson(Arrays.asList(pte, ptl)));
    assertTrue(two instanceof List);
    List<?> list = (List<?>) two;
    assertEquals(2, list.size());
    for (Object o : list) {
      Map<?, ?> m = (Map<?, ?>) o;
      for (String k : BENCH_KEYS) assertTrue("missing " + k, m.containsKey(k));
    }
    assertEquals("executorch-android 1.3.1", ((Map<?, ?>) list.get(0)).get("runtime"));
    assertEquals("pytorch_android_lite 2.1.0", ((Map<?, ?>) list.get(1)).get("runtime"));
    assertEquals("pte", ((Map<?, ?>) list.get(0)).get("format"));
    assertEquals(11.0, ((Map<?, ?>) list.get(0)).get("p50_ms"));
  }

  @Test
  public void sideBySideTable() {
    BenchmarkResult pte = result(ModelFormat.PTE, new double[] {10, 12, 11}, 35.2);
    BenchmarkResult ptl = result(ModelFormat.PTL, new double[] {20, 22, 21}, 212.3);
    String t = BenchmarkReport.sideBySide(
        Arrays.asList(pte, ptl), Arrays.asList("ExecuTorch", "PyTorch Lite"), Collections.<String>emptyList());
    String[] lines = t.split("\n");
    assertTrue(t, lines[0].endsWith("ExecuTorch  PyTorch Lite"));
    assertTrue(t, t.contains("load"));
    assertTrue(t, lines[1].startsWith("load "));
    assertTrue(t, lines[1].contains("35.2 ms"));
    assertTrue(t, lines[1].endsWith("212.3 ms"));
    assertTrue(t, t.contains("p50"));
    assertTrue(t, t.contains("file size"));
    assertTrue(t, t.contains("12.35 MB"));
    assertTrue(t, t.contains("ExecuTorch is 1.91\u00d7 faster than PyTorch Lite at p50 (11.0 ms vs 21.0 ms)"));
    // columns line up: every table line has the same length
    int width = lines[0].length();
    for (int i = 1; i <= 10; i++) assertEquals(t, width, lines[i].length());
  }

  @Test
  public void slowerFirstAndFailures() {
    BenchmarkResult pte = result(ModelFormat.PTE, new double[] {30}, 35.2);
    BenchmarkResult ptl = result(ModelFormat.PTL, new double[] {10}, 212.3);
    String t = BenchmarkReport.sideBySide(
        Arrays.asList(pte, ptl), Arrays.asList("ExecuTorch", "PyTorch Lite"), Collections.<String>emptyList());
    assertTrue(t, t.contains("PyTorch Lite is 3.00\u00d7 faster than ExecuTorch"));

    String failed = BenchmarkReport.sideBySide(
        Collections.singletonList(pte), Collections.singletonList("ExecuTorch"),
        Collections.singletonList("PyTorch Lite: not measured (its native library did not load)"));
    assertTrue(failed, failed.endsWith("PyTorch Lite: not measured (its native library did not load)"));
    assertTrue(failed, !failed.contains("faster"));

    String onlyFailures = BenchmarkReport.sideBySide(
        Collections.<BenchmarkResult>emptyList(), Collections.<String>emptyList(), Arrays.asList("a", "b"));
    assertEquals("a\n\nb", onlyFailures);
  }

  @Test
  public void equalSpeed() {
    BenchmarkResult a = result(ModelFormat.PTE, new double[] {10}, 1);
    BenchmarkResult b = result(ModelFormat.PTL, new double[] {10.01}, 1);
    assertTrue(BenchmarkReport.compareP50(a, "A", b, "B").contains("equally fast"));
  }
}
