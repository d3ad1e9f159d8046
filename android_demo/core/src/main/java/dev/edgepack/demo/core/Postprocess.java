package dev.edgepack.demo.core;

/** Turns the model's output into probabilities for display, following the manifest. */
public final class Postprocess {
  private Postprocess() {}

  /** Numerically stable softmax (max subtracted, double accumulation). */
  public static float[] softmax(float[] logits) {
    float[] out = new float[logits.length];
    if (logits.length == 0) return out;
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) if (v > max) max = v;
    if (Double.isInfinite(max)) {
      // all -inf (or +inf present): fall back to a uniform / one-hot distribution
      int count = 0;
      for (float v : logits) if (v == max) count++;
      for (int i = 0; i < logits.length; i++) out[i] = logits[i] == max ? 1.0f / count : 0f;
      return out;
    }
    double sum = 0;
    double[] e = new double[logits.length];
    for (int i = 0; i < logits.length; i++) {
      e[i] = Math.exp(logits[i] - max);
      sum += e[i];
    }
    for (int i = 0; i < logits.length; i++) out[i] = (float) (e[i] / sum);
    return out;
  }

  /** Element-wise logistic function, stable for large |x|. */
  public static float[] sigmoid(float[] logits) {
    float[] out = new float[logits.length];
    for (int i = 0; i < logits.length; i++) {
      double x = logits[i];
      if (x >= 0) {
        out[i] = (float) (1.0 / (1.0 + Math.exp(-x)));
      } else {
        double z = Math.exp(x);
        out[i] = (float) (z / (1.0 + z));
      }
    }
    return out;
  }

  /** True when the model outputs logits and the app applies the task's activation itself. */
  public static boolean appliesActivation(Manifest manifest) {
    return manifest.getOutput() != null && manifest.getOutput().isLogits();
  }

  /**
   * Probabilities for display: the model's output as-is when it already gives probabilities,
   * otherwise softmax (multiclass) or sigmoid (multilabel) of the logits.
   */
  public static float[] toProbabilities(float[] output, Manifest manifest) {
    if (!appliesActivation(manifest)) return output.clone();
    return manifest.getTask() == Task.MULTILABEL ? sigmoid(output) : softmax(output);
  }

  /**
   * Null when the model's output, on any run (the first one included), fits its manifest: as many
   * scores as the manifest's classes and labels, all of them finite. Otherwise a message for the
   * user: a manifest copied from another model, or a damaged file, must not label the scores.
   */
  public static String outputProblem(float[] output, Manifest manifest) {
    if (output == null) return "The model returned no scores.";
    String problem = outputProblem(output.length, manifest);
    if (problem != null) return problem;
    java.util.List<String> labels = manifest.getLabels();
    if (labels != null && !labels.isEmpty() && labels.size() != output.length) {
      return "The model returned "
          + output.length
          + " scores but its manifest lists "
          + labels.size()
          + " labels; the file and its manifest do not match. Rebuild it with edgepack.";
    }
    for (float v : output) {
      if (Float.isNaN(v) || Float.isInfinite(v)) {
        return "The model returned a score that is not a finite number: the file is damaged or the"
            + " image is larger than the model accepts. Rebuild it with edgepack.";
      }
    }
    return null;
  }

  /**
   * Null when an output of {@code length} scores fits the manifest, else a message for the user.
   * {@link #outputProblem(float[], Manifest)} also checks the labels and the values.
   */
  public static String outputProblem(int length, Manifest manifest) {
    int n = manifest.getNumClasses();
    if (length == 0) {
      return "The model returned no scores.";
    }
    if (n > 0 && length != n && manifest.getTask() == Task.EMBEDDING) {
      return "The model returned a vector of "
          + length
          + " values but its manifest says dim "
          + n
          + "; the file and its manifest do not match. Rebuild it with edgepack.";
    }
    if (n > 0 && length != n) {
      return "The model returned "
          + length
          + " scores but its manifest says "
          + n
          + " classes; the file and its manifest do not match. Rebuild it with edgepack.";
    }
    return null;
  }
}
