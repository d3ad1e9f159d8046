package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The manifest's {@code output}: probabilities (activation applied inside the model), logits, or an
 * embedding (an L2-normalised vector of {@code dim} values).
 */
public final class OutputSpec {
  public static final String KIND_PROBABILITIES = "probabilities";
  public static final String KIND_LOGITS = "logits";
  public static final String KIND_EMBEDDING = "embedding";

  private final String kind;
  private final String activation;
  private final String dtype;
  private final List<Long> shape;
  private final int numClasses;

  OutputSpec(String kind, String activation, String dtype, List<Long> shape, int numClasses) {
    this.kind = kind;
    this.activation = activation;
    this.dtype = dtype;
    this.shape = shape == null ? null : Collections.unmodifiableList(new ArrayList<>(shape));
    this.numClasses = numClasses;
  }

  public String getKind() {
    return kind;
  }

  public boolean isLogits() {
    return KIND_LOGITS.equals(kind);
  }

  public boolean isEmbedding() {
    return KIND_EMBEDDING.equals(kind);
  }

  public boolean isProbabilities() {
    return KIND_PROBABILITIES.equals(kind);
  }

  /** "softmax", "sigmoid", or null (logits / absent). */
  public String getActivation() {
    return activation;
  }

  public String getDtype() {
    return dtype;
  }

  public List<Long> getShape() {
    return shape;
  }

  /**
   * Number of classes: {@code num_classes}, else the product of {@code shape}, else the number of
   * labels; -1 when none of them is known (then the model's output length decides). For an
   * embedding: the vector's size, {@code dim}.
   */
  public int getNumClasses() {
    return numClasses;
  }
}
