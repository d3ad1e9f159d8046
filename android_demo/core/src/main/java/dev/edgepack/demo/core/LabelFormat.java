package dev.edgepack.demo.core;

import java.util.List;
import java.util.Locale;

/** Text for the result list, e.g. {@code "golden retriever — 87.3%"}. Locale-independent. */
public final class LabelFormat {
  /** The separator between label and percentage: " — " (em dash). */
  public static final String SEPARATOR = " \u2014 ";

  private LabelFormat() {}

  /** The label for class {@code index}, or "class N" when there is none (or it is blank). */
  public static String labelFor(List<String> labels, int index) {
    if (labels != null && index >= 0 && index < labels.size()) {
      String label = labels.get(index);
      if (label != null && !label.trim().isEmpty()) {
        return label;
      }
    }
    return "class " + index;
  }

  /**
   * A probability in [0, 1] as a percentage with one decimal: 0.8734 → "87.3%". Values above 0 that
   * would round to 0.0% show as "<0.1%"; NaN shows as "n/a".
   */
  public static String percent(double probability) {
    if (Double.isNaN(probability)) {
      return "n/a";
    }
    double pct = probability * 100.0;
    if (pct > 0 && pct < 0.05) {
      return "<0.1%";
    }
    return String.format(Locale.ROOT, "%.1f%%", pct);
  }

  /** "label — 87.3%". */
  public static String format(String label, double probability) {
    return label + SEPARATOR + percent(probability);
  }

  /** Milliseconds for display: "0.42 ms", "12.3 ms", "1234 ms". */
  public static String millis(double ms) {
    if (Double.isNaN(ms)) return "n/a";
    if (ms < 10) return String.format(Locale.ROOT, "%.2f ms", ms);
    if (ms < 1000) return String.format(Locale.ROOT, "%.1f ms", ms);
    return String.format(Locale.ROOT, "%.0f ms", ms);
  }
}
