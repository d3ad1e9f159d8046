package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The k highest scores, best first; ties keep the lower class index first; NaN ranks last. */
public final class TopK {
  private TopK() {}

  /** Indices of the k highest scores (k is clamped to [0, scores.length]). */
  public static int[] indices(float[] scores, int k) {
    if (scores == null) throw new IllegalArgumentException("scores is null");
    if (k < 0) throw new IllegalArgumentException("k must be >= 0, got " + k);
    int n = Math.min(k, scores.length);
    int[] best = new int[n];
    int size = 0;
    // insertion into a small sorted buffer: O(len * k), fine for class counts and k = 5
    for (int i = 0; i < scores.length; i++) {
      if (n == 0) break;
      if (size == n && !better(scores, i, best[size - 1])) continue;
      int j = size < n ? size++ : size - 1;
      while (j > 0 && better(scores, i, best[j - 1])) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = i;
    }
    return best;
  }

  /** True when class a ranks before class b. */
  private static boolean better(float[] s, int a, int b) {
    float x = s[a];
    float y = s[b];
    boolean xn = Float.isNaN(x);
    boolean yn = Float.isNaN(y);
    if (xn || yn) {
      return !xn && yn || (xn && yn && a < b);
    }
    if (x != y) return x > y;
    return a < b;
  }

  /** The top k as {@link Prediction}s labelled from {@code labels} ("class N" where missing). */
  public static List<Prediction> of(float[] probabilities, int k, List<String> labels) {
    int[] idx = indices(probabilities, k);
    List<Prediction> out = new ArrayList<>(idx.length);
    for (int i : idx) {
      out.add(new Prediction(i, probabilities[i], LabelFormat.labelFor(labels, i)));
    }
    return Collections.unmodifiableList(out);
  }
}
