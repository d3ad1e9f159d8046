package dev.edgepack.demo.core;

/**
 * The check of a model's output on every run (the first included), for every task: the one place
 * the app (main screen and benchmark) asks whether what {@code forward} returned fits the manifest.
 */
public final class OutputCheck {
  private OutputCheck() {}

  /**
   * Null when {@code out} fits {@code manifest} for a {@code frameWidth × frameHeight} input frame;
   * otherwise a message for the user. Classifiers and embeddings: float32 values, checked by {@link
   * Postprocess#outputProblem(float[], Manifest)}; segmentation: {@link SegmentationOutput#problem}.
   */
  public static String problem(ModelOutput out, Manifest manifest, int frameWidth, int frameHeight) {
    if (out == null) return "The model returned no output.";
    if (manifest.getTask() == Task.SEGMENTATION) {
      SegmentationSpec spec = manifest.getSegmentation();
      if (spec == null) {
        return "The model's manifest does not describe a segmentation output the app can draw.";
      }
      return SegmentationOutput.problem(out, spec, frameWidth, frameHeight);
    }
    if (out.getDtype() != ModelOutput.DType.FLOAT32) {
      return "The model returned " + out.getDtypeName() + " values " + out.shapeText() + " but its manifest"
          + " promises float32 " + (manifest.getTask() == Task.EMBEDDING ? "vector values" : "scores")
          + "; the file and its manifest do not match. Rebuild it with edgepack.";
    }
    return Postprocess.outputProblem(out.floats(), manifest);
  }
}
