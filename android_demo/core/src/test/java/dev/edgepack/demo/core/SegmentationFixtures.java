package dev.edgepack.demo.core;

import static org.junit.Assert.fail;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The segmentation manifests under core/src/test/resources/segmentation/, copied unchanged from
 * real {@code edgepack build --task segmentation} files (see the README there), as fresh mutable
 * JSON values, and small builders for outputs. Tests that need a variant edit a fresh copy.
 */
final class SegmentationFixtures {
  /** .ptl, output.kind "mask" (uint8 [H, W] at the frame), 7 classes, squash. */
  static final String MASK = "mask.ptl.manifest.json";
  /** .ptl, per-class softmax maps [7, 32, 32] from a [3, 128, 128] input, letterbox. */
  static final String MAPS_LETTERBOX = "probs_letterbox.ptl.manifest.json";
  /** .pte, per-class softmax maps [7, 32, 32] from a [3, 128, 128] input, squash. */
  static final String MAPS_PTE = "probs.pte.manifest.json";
  static final List<String> SHAPE_LABELS =
      Arrays.asList("background", "circle", "cross", "ring", "square", "star", "triangle");

  private SegmentationFixtures() {}

  /** {@link #MASK} (parse with {@link #parsePtl}). */
  static Map<String, Object> mask() {
    return read(MASK);
  }

  /** {@link #MAPS_LETTERBOX} (parse with {@link #parsePtl}). */
  static Map<String, Object> mapsLetterbox() {
    return read(MAPS_LETTERBOX);
  }

  /** {@link #MAPS_PTE} (parse with {@link #parsePte}). */
  static Map<String, Object> mapsPte() {
    return read(MAPS_PTE);
  }

  private static Map<String, Object> read(String name) {
    File f = new File(Fixtures.demoDir(), "core/src/test/resources/segmentation/" + name);
    if (!f.isFile()) fail("segmentation fixture not found: " + f);
    return Json.parseObject(Fixtures.read(f));
  }

  /** As the app reads the manifest of a .ptl file. */
  static Manifest parsePtl(Map<String, Object> m) {
    return Fixtures.reparse(m, ModelFormat.PTL);
  }

  /** As the app reads the manifest of a .pte file. */
  static Manifest parsePte(Map<String, Object> m) {
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
