package dev.edgepack.demo.core;

import java.util.Arrays;
import java.util.Locale;

/**
 * Checks a segmentation model's output against its manifest ({@link SegmentationSpec}) and the
 * frame it was given, and turns it into a {@link ClassMask} that covers exactly that frame.
 *
 * <p>Why check every run: a manifest copied from another model, or a damaged file, would otherwise
 * give an overlay that looks plausible and is wrong (a mask of another size stretched over the
 * photo, class indices coloured with the wrong labels). The app says what disagrees instead.
 */
public final class SegmentationOutput {
  private static final String REBUILD = " The file and its manifest do not match; rebuild it with edgepack.";

  private SegmentationOutput() {}

  /**
   * Null when {@code out} is what {@code spec} promises for a {@code frameWidth × frameHeight}
   * frame; otherwise a message for the user. A mask: uint8 {@code [H, W]} of the frame, every value
   * below {@code num_classes}. Per-class maps: float32 {@code [K, h, w]} as in the manifest, every
   * value finite.
   */
  public static String problem(ModelOutput out, SegmentationSpec spec, int frameWidth, int frameHeight) {
    if (out == null) return "The model returned no output.";
    SegmentationSpec.Kind kind = spec.getKind();
    ModelOutput.DType expectedDtype =
        spec.isMask() ? ModelOutput.DType.UINT8 : ModelOutput.DType.FLOAT32;
    if (out.getDtype() != expectedDtype) {
      return "The model returned " + out.getDtypeName() + " values " + out.shapeText() + " but its manifest"
          + " promises a " + kind.dtype + (spec.isMask() ? " class mask." : " per-class map.") + REBUILD;
    }
    long[] expected = spec.expectedShape(frameWidth, frameHeight);
    if (!out.hasShape(expected)) {
      return spec.isMask()
          ? "The model returned a mask of shape " + out.shapeText() + " for a " + frameWidth + "×"
              + frameHeight + " image; its manifest promises one class index per image pixel, "
              + Arrays.toString(expected) + "." + REBUILD
          : "The model returned maps of shape " + out.shapeText() + " but its manifest promises "
              + Arrays.toString(expected) + " ([classes, height, width])." + REBUILD;
    }
    return spec.isMask() ? maskValueProblem(out.bytes(), frameWidth, spec) : mapValueProblem(out.floats());
  }

  private static String maskValueProblem(byte[] values, int width, SegmentationSpec spec) {
    int k = spec.getNumClasses();
    if (k >= SegmentationSpec.MAX_MASK_CLASSES) return null; // every uint8 value is a class
    int first = -1;
    int count = 0;
    int max = 0;
    for (int i = 0; i < values.length; i++) {
      int v = values[i] & 0xff;
      if (v >= k) {
        if (first < 0) first = i;
        count++;
        max = Math.max(max, v);
      }
    }
    if (first < 0) return null;
    return String.format(
        Locale.ROOT,
        "The model's mask has class index %d at pixel (%d, %d) (%d pixel%s with indices up to %d), but"
            + " its manifest has %d class%s (0 to %d).%s",
        values[first] & 0xff, first % width, first / width, count, count == 1 ? "" : "s", max,
        k, k == 1 ? "" : "es", k - 1, REBUILD);
  }

  private static String mapValueProblem(float[] values) {
    for (float v : values) {
      if (Float.isNaN(v) || Float.isInfinite(v)) {
        return "The model returned a map value that is not a finite number: the file is damaged or"
            + " the image is larger than the model accepts. Rebuild it with edgepack.";
      }
    }
    return null;
  }

  /**
   * The class of every frame pixel, as a mask covering exactly the frame: a mask output as it is;
   * per-class maps reduced to the most likely class ({@link ClassMask#argmax}) and, for a
   * letterboxed frame, cut to the box that shows it ({@link SegmentationSpec#frameBox}: the
   * frame's box in the network input, scaled to the maps' resolution). The result is usually
   * coarser than the frame (e.g. 32×24 map pixels for a 640×480 photo); {@link MaskOverlay} and
   * {@link SegmentationSummary} give each frame pixel the class of its nearest mask pixel, as
   * edgepack's {@code Predictor.frame_mask} does.
   *
   * @throws IllegalArgumentException with {@link #problem}'s message when the output does not fit
   */
  public static ClassMask decode(ModelOutput out, SegmentationSpec spec, int frameWidth, int frameHeight) {
    String problem = problem(out, spec, frameWidth, frameHeight);
    if (problem != null) throw new IllegalArgumentException(problem);
    if (spec.isMask()) return ClassMask.ofUint8(out.bytes(), frameWidth, frameHeight);
    int h = spec.getMapHeight();
    int w = spec.getMapWidth();
    ClassMask classes = ClassMask.argmax(out.floats(), spec.getNumClasses(), h, w, spec.isBinarySigmoid());
    return classes.crop(spec.frameBox(frameWidth, frameHeight));
  }
}
