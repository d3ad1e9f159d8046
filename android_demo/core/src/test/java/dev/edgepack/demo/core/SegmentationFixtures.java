package dev.edgepack.demo.core;

import static org.junit.Assert.fail;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The hand-written segmentation manifests under core/src/test/resources/segmentation/ (written to
 * the contract of issue #13 item 8 before edgepack builds segmentation models; see their "note"),
 * as fresh mutable JSON values, and small builders for outputs.
 */
final class SegmentationFixtures {
  static final String MASK = "manifest_mask.handwritten.json";
  static final String PROBABILITIES = "manifest_probabilities.handwritten.json";
  static final List<String> SHAPE_LABELS =
      Arrays.asList("background", "circle", "cross", "ring", "square", "star", "triangle");

  private SegmentationFixtures() {}

  /** The .ptl manifest of a mask model (7 classes). */
  static Map<String, Object> mask() {
    return read(MASK);
  }

  /** The .pte manifest of a per-class maps model ([7, 64, 64], softmax, letterbox). */
  static Map<String, Object> probabilities() {
    return read(PROBABILITIES);
  }

  private static Map<String, Object> read(String name) {
    File f = new File(Fixtures.demoDir(), "core/src/test/resources/segmentation/" + name);
    if (!f.isFile()) fail("segmentation fixture not found: " + f);
    return Json.parseObject(Fixtures.read(f));
  }

  static Manifest parseMask(Map<String, Object> m) {
    return Fixtures.reparse(m, ModelFormat.PTL);
  }

  static Manifest parseProbabilities(Map<String, Object> m) {
    return Fixtures.reparse(m, ModelFormat.PTE);
  }

  static Map<String, Object> output(Map<String, Object> m) {
    return Fixtures.child(m, "output");
  }

  static Map<String, Object> preprocess(Map<String, Object> m) {
    return Fixtures.child(m, "preprocess");
  }

  static List<Object> list(Object... values) {
    return new ArrayList<>(Arrays.asList(values));
  }

  /** A uint8 mask output of {@code values} (each 0..255) for a width × height frame. */
  static ModelOutput maskOutput(int width, int height, int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) b[i] = (byte) values[i];
    return ModelOutput.uint8(new long[] {height, width}, b);
  }
}
