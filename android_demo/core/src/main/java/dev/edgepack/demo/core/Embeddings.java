package dev.edgepack.demo.core;

import java.util.Locale;

/**
 * The math the app needs for an embedding model (built with {@code edgepack build --task
 * embedding}): the vector's norm, the cosine similarity of two vectors, and a tracker that keeps
 * the last vector so the screen can show how similar the last two images are. Plain Java, no
 * Android types (JVM-tested).
 */
public final class Embeddings {
  /** How far from 1 the norm of a model's (L2-normalised) vector may be before the app says so. */
  public static final double UNIT_NORM_TOLERANCE = 1e-3;

  private Embeddings() {}

  /** The L2 norm, accumulated in double. */
  public static double norm(float[] v) {
    double sum = 0;
    for (float x : v) sum += (double) x * x;
    return Math.sqrt(sum);
  }

  /**
   * Cosine similarity of {@code a} and {@code b} in [-1, 1] (accumulated in double, clamped against
   * rounding); 0 when either is a zero vector (what L2 normalisation gives a zero feature vector).
   *
   * @throws IllegalArgumentException when the sizes differ or a value is not finite
   */
  public static double cosine(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "vectors of different sizes: " + a.length + " and " + b.length);
    }
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      if (!Float.isFinite(a[i]) || !Float.isFinite(b[i])) {
        throw new IllegalArgumentException("a vector value is not finite");
      }
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    if (na == 0 || nb == 0) return 0;
    double c = dot / (Math.sqrt(na) * Math.sqrt(nb));
    return Math.max(-1.0, Math.min(1.0, c));
  }

  /** What the screen shows for one image. */
  public static final class Summary {
    /** The vector's size. */
    public final int dim;
    /** Its L2 norm (1 for an edgepack embedding; 0 for a zero vector). */
    public final double norm;
    /** Cosine similarity with the previous image's vector, or null for the first image. */
    public final Double similarityToPrevious;

    Summary(int dim, double norm, Double similarityToPrevious) {
      this.dim = dim;
      this.norm = norm;
      this.similarityToPrevious = similarityToPrevious;
    }

    /** True when the norm is 1 within {@link #UNIT_NORM_TOLERANCE} (or the vector is zero). */
    public boolean isUnitNorm() {
      return norm == 0 || Math.abs(norm - 1.0) <= UNIT_NORM_TOLERANCE;
    }

    /**
     * "Embedding: 1280 values, norm 1.000" plus, from the second image on, "Cosine similarity
     * with the previous image: 0.873".
     */
    public String format() {
      StringBuilder sb = new StringBuilder();
      sb.append(String.format(Locale.ROOT, "Embedding: %d values, norm %.3f", dim, norm));
      if (!isUnitNorm()) sb.append(" (not a unit vector: the file and its manifest disagree)");
      if (similarityToPrevious == null) {
        sb.append("\nPick another image to see how similar the two are.");
      } else {
        sb.append(String.format(
            Locale.ROOT, "\nCosine similarity with the previous image: %.3f", similarityToPrevious));
      }
      return sb.toString();
    }
  }

  /** Keeps the last vector; not thread-safe (the app uses it on its torch thread only). */
  public static final class Tracker {
    private float[] previous;

    /** Records {@code vector} (copied) and summarises it against the previous one. */
    public Summary add(float[] vector) {
      Double similarity = null;
      if (previous != null && previous.length == vector.length) {
        similarity = cosine(previous, vector);
      }
      previous = vector.clone();
      return new Summary(vector.length, norm(vector), similarity);
    }

    /** Forgets the previous vector (a new model was loaded). */
    public void reset() {
      previous = null;
    }
  }
}
