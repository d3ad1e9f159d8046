package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The benchmark screen's report of one or more runtimes measured with the same protocol: JSON in
 * the shape {@code edgepack bench --json} prints (one object for one result, an array for
 * several, each with the bench field names plus {@code runtime}), and a side-by-side text table.
 */
public final class BenchmarkReport {
  private BenchmarkReport() {}

  /** One result as an object, several as an array: what {@code edgepack bench --json} prints. */
  public static Object toJsonValue(List<BenchmarkResult> results) {
    if (results == null || results.isEmpty()) throw new IllegalArgumentException("no results");
    if (results.size() == 1) return results.get(0).toMap();
    List<Object> list = new ArrayList<>();
    for (BenchmarkResult r : results) list.add(r.toMap());
    return list;
  }

  /** {@link #toJsonValue} as pretty JSON (2-space indent). */
  public static String toJson(List<BenchmarkResult> results) {
    return Json.writePretty(toJsonValue(results), 2);
  }

  /**
   * A monospace table, one column per runtime, e.g.
   *
   * <pre>
   *                    ExecuTorch    PyTorch Lite
   * load                 35.20 ms       212.3 ms
   * ...
   * </pre>
   *
   * followed, for two results, by which one is faster at p50 and by how much, and by failures.
   *
   * @param labels a column heading per result (e.g. "ExecuTorch")
   * @param failures lines for runtimes that could not be measured (may be empty)
   */
  public static String sideBySide(List<BenchmarkResult> results, List<String> labels, List<String> failures) {
    StringBuilder sb = new StringBuilder();
    if (results != null && !results.isEmpty()) {
      if (labels == null || labels.size() != results.size()) {
        throw new IllegalArgumentException("one label per result");
      }
      String[] rowNames = {
        "load", "first inference", "p50", "p90", "p99", "mean", "min", "runs / warm-up", "threads",
        "file size"
      };
      List<String[]> columns = new ArrayList<>();
      for (BenchmarkResult r : results) {
        LatencyStats s = r.getStats();
        columns.add(
            new String[] {
              LabelFormat.millis(r.getLoadMs()),
              LabelFormat.millis(r.getFirstInferenceMs()),
              LabelFormat.millis(s.getP50()),
              LabelFormat.millis(s.getP90()),
              LabelFormat.millis(s.getP99()),
              LabelFormat.millis(s.getMean()),
              LabelFormat.millis(s.getMin()),
              r.getRuns() + " / " + r.getWarmup(),
              String.valueOf(r.getThreads()),
              megabytes(r.getFileSizeBytes())
            });
      }
      int nameWidth = 0;
      for (String n : rowNames) nameWidth = Math.max(nameWidth, n.length());
      int[] widths = new int[results.size()];
      for (int c = 0; c < results.size(); c++) {
        widths[c] = labels.get(c).length();
        for (String v : columns.get(c)) widths[c] = Math.max(widths[c], v.length());
      }
      sb.append(pad("", nameWidth, false));
      for (int c = 0; c < results.size(); c++) sb.append("  ").append(pad(labels.get(c), widths[c], true));
      for (int row = 0; row < rowNames.length; row++) {
        sb.append('\n').append(pad(rowNames[row], nameWidth, false));
        for (int c = 0; c < results.size(); c++) {
          sb.append("  ").append(pad(columns.get(c)[row], widths[c], true));
        }
      }
      if (results.size() == 2) {
        String cmp = compareP50(results.get(0), labels.get(0), results.get(1), labels.get(1));
        if (cmp != null) sb.append("\n\n").append(cmp);
      }
    }
    if (failures != null) {
      for (String f : failures) {
        if (sb.length() > 0) sb.append("\n\n");
        sb.append(f);
      }
    }
    return sb.toString();
  }

  /** "ExecuTorch is 1.42× faster than PyTorch Lite at p50 (12.3 ms vs 17.5 ms)", or null. */
  static String compareP50(BenchmarkResult a, String labelA, BenchmarkResult b, String labelB) {
    double pa = a.getStats().getP50();
    double pb = b.getStats().getP50();
    if (!(pa > 0) || !(pb > 0) || Double.isInfinite(pa) || Double.isInfinite(pb)) return null;
    boolean aFaster = pa <= pb;
    double ratio = aFaster ? pb / pa : pa / pb;
    if (ratio < 1.005) {
      return String.format(Locale.ROOT, "%s and %s are equally fast at p50 (%s)",
          labelA, labelB, LabelFormat.millis(pa));
    }
    return String.format(
        Locale.ROOT,
        "%s is %.2f\u00d7 faster than %s at p50 (%s vs %s)",
        aFaster ? labelA : labelB,
        ratio,
        aFaster ? labelB : labelA,
        LabelFormat.millis(aFaster ? pa : pb),
        LabelFormat.millis(aFaster ? pb : pa));
  }

  static String megabytes(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
  }

  private static String pad(String s, int width, boolean right) {
    StringBuilder sb = new StringBuilder();
    if (!right) sb.append(s);
    for (int i = s.length(); i < width; i++) sb.append(' ');
    if (right) sb.append(s);
    return sb.toString();
  }
}
