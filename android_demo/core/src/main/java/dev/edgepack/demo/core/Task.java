package dev.edgepack.demo.core;

/**
 * The manifest's {@code task}: how the class scores relate to each other, an embedding model (no
 * classes: an L2-normalised feature vector, built with {@code edgepack build --task embedding}), or
 * a segmentation model (a class per pixel, {@code --task segmentation}; see {@link
 * SegmentationSpec}).
 */
public enum Task {
  /** One class per image; probabilities sum to 1 (softmax). */
  MULTICLASS("multiclass", "softmax"),
  /** Independent yes/no per class (sigmoid); probabilities do not sum to 1. */
  MULTILABEL("multilabel", "sigmoid"),
  /** A feature vector of {@code output.dim} values, L2-normalised inside the model. */
  EMBEDDING("embedding", "l2norm"),
  /**
   * A class per pixel: a uint8 class mask at the frame's resolution, or per-class maps at the
   * network's resolution (whose usual activation is softmax; the manifest's {@code
   * output.activation} says which). The app draws it as a colour overlay.
   */
  SEGMENTATION("segmentation", "softmax");

  public final String jsonName;
  /** The activation that turns this task's logits into probabilities. */
  public final String activation;

  Task(String jsonName, String activation) {
    this.jsonName = jsonName;
    this.activation = activation;
  }

  /** The task for a manifest value, or null when unknown. */
  public static Task fromJson(String name) {
    for (Task t : values()) {
      if (t.jsonName.equals(name)) return t;
    }
    return null;
  }
}
