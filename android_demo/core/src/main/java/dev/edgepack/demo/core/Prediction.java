package dev.edgepack.demo.core;

/** One entry of a top-k list. */
public final class Prediction {
  private final int index;
  private final float probability;
  private final String label;

  public Prediction(int index, float probability, String label) {
    this.index = index;
    this.probability = probability;
    this.label = label;
  }

  public int getIndex() {
    return index;
  }

  public float getProbability() {
    return probability;
  }

  public String getLabel() {
    return label;
  }

  /** "label — 87.3%". */
  public String format() {
    return LabelFormat.format(label, probability);
  }

  @Override
  public String toString() {
    return format();
  }
}
