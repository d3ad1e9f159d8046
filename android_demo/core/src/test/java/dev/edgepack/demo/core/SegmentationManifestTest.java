package dev.edgepack.demo.core;

import static dev.edgepack.demo.core.SegmentationFixtures.list;
import static dev.edgepack.demo.core.SegmentationFixtures.output;
import static dev.edgepack.demo.core.SegmentationFixtures.parseMask;
import static dev.edgepack.demo.core.SegmentationFixtures.parseProbabilities;
import static dev.edgepack.demo.core.SegmentationFixtures.preprocess;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import dev.edgepack.demo.core.ManifestIssue.Code;
import java.util.Map;
import org.junit.Test;

/**
 * The segmentation parts of the manifest ({@link SegmentationSpec} through {@link Manifest}): the
 * hand-written fixtures are accepted with their values, and every way the app could draw a wrong
 * overlay is refused before the model runs, with the right code.
 */
public class SegmentationManifestTest {

  private static void assertRefused(Manifest m, Code code) {
    ManifestCheck check = m.check();
    assertFalse("expected refusal: " + check, check.isCompatible());
    assertTrue("expected " + code + " in " + check, check.has(code));
    assertNull(m.getSegmentation());
    assertTrue(check.userMessage(), check.userMessage().startsWith("This model can't be used"));
  }

  private static void assertAccepted(Manifest m) {
    assertTrue(m.check().toString(), m.check().isCompatible());
    assertTrue(m.getSegmentation() != null);
  }

  // ---------------------------------------------------------------- the fixtures

  @Test
  public void maskFixtureIsUsable() {
    Manifest m = parseMask(SegmentationFixtures.mask());
    assertAccepted(m);
    assertTrue(m.check().getIssues().toString(), m.check().getIssues().isEmpty());
    assertEquals(Task.SEGMENTATION, m.getTask());
    SegmentationSpec s = m.getSegmentation();
    assertEquals(SegmentationSpec.Kind.MASK, s.getKind());
    assertTrue(s.isMask());
    assertEquals(7, s.getNumClasses());
    assertEquals(7, s.getClassCount());
    assertEquals(7, m.getNumClasses());
    assertNull("a mask is at the frame's resolution: no resize policy needed", s.getResizePolicy());
    assertEquals("background", s.className(0));
    assertEquals("triangle", s.className(6));
    assertArrayEquals(new long[] {480, 640}, s.expectedShape(640, 480));
    assertEquals("mask", m.getOutput().getKind());
    assertEquals("uint8", m.getOutput().getDtype());
    assertTrue(m.describe(), m.describe().contains("7 classes · segmentation (class mask)"));
  }

  @Test
  public void probabilitiesFixtureIsUsable() {
    Manifest m = parseProbabilities(SegmentationFixtures.probabilities());
    assertAccepted(m);
    assertTrue(m.check().getIssues().toString(), m.check().getIssues().isEmpty());
    SegmentationSpec s = m.getSegmentation();
    assertEquals(SegmentationSpec.Kind.PROBABILITIES, s.getKind());
    assertEquals(7, s.getNumClasses());
    assertEquals(64, s.getMapHeight());
    assertEquals(64, s.getMapWidth());
    assertEquals("softmax", s.getActivation());
    assertEquals(SegmentationSpec.ResizePolicy.LETTERBOX, s.getResizePolicy());
    assertFalse(s.isBinarySigmoid());
    assertArrayEquals(new long[] {7, 64, 64}, s.expectedShape(640, 480));
    assertTrue(m.describe(), m.describe().contains("segmentation (per-class maps, letterbox)"));
    assertTrue(s.describe(), s.describe().contains("7 per-class maps at 64×64 (softmax, letterbox)"));
  }

  @Test
  public void squashIsAccepted() {
    Map<String, Object> m = SegmentationFixtures.probabilities();
    preprocess(m).put("resize_policy", "squash");
    assertEquals(SegmentationSpec.ResizePolicy.SQUASH, parseProbabilities(m).getSegmentation().getResizePolicy());
  }

  @Test
  public void optionalFieldsMayBeAbsent() {
    Map<String, Object> mask = SegmentationFixtures.mask();
    output(mask).remove("shape");
    output(mask).remove("resolution");
    output(mask).remove("dtype");
    output(mask).remove("values");
    output(mask).remove("num_classes"); // the labels' count then
    Manifest m = parseMask(mask);
    assertAccepted(m);
    assertEquals(7, m.getSegmentation().getNumClasses());

    Map<String, Object> maps = SegmentationFixtures.probabilities();
    output(maps).remove("num_classes"); // the shape's K then
    output(maps).remove("resolution");
    preprocess(maps).remove("input_size");
    output(maps).remove("activation"); // argmax over 7 maps does not depend on it
    Manifest p = parseProbabilities(maps);
    assertAccepted(p);
    assertEquals(7, p.getSegmentation().getNumClasses());
  }

  @Test
  public void noLabelsIsAWarningAndNamesAreClassN() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("labels");
    Manifest parsed = parseMask(m);
    assertAccepted(parsed);
    assertTrue(parsed.check().has(Code.LABELS_MISSING));
    assertEquals("class 3", parsed.getSegmentation().className(3));
  }

  // ---------------------------------------------------------------- kinds and dtypes

  @Test
  public void otherOutputKindsAreRefused() {
    for (Object kind : list("logits", "embedding", "heatmap", "boxes", 3L)) {
      Map<String, Object> m = SegmentationFixtures.mask();
      output(m).put("kind", kind);
      assertRefused(parseMask(m), Code.OUTPUT_KIND_UNSUPPORTED);
    }
    Map<String, Object> absent = SegmentationFixtures.mask();
    output(absent).remove("kind");
    Manifest parsed = parseMask(absent);
    assertRefused(parsed, Code.OUTPUT_KIND_UNSUPPORTED);
    assertTrue(parsed.check().userMessage(), parsed.check().userMessage().contains("\"mask\""));
  }

  @Test
  public void aMaskOutputWithAClassifierTaskIsRefused() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.put("task", "multiclass");
    Manifest parsed = parseMask(m);
    assertFalse(parsed.check().isCompatible());
    assertTrue(parsed.check().has(Code.OUTPUT_KIND_UNSUPPORTED));
    assertTrue(parsed.check().userMessage(), parsed.check().userMessage().contains("\"segmentation\""));
  }

  @Test
  public void wrongDtypesAreRefused() {
    Map<String, Object> mask = SegmentationFixtures.mask();
    output(mask).put("dtype", "float32");
    assertRefused(parseMask(mask), Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> mask64 = SegmentationFixtures.mask();
    output(mask64).put("dtype", "int64");
    assertRefused(parseMask(mask64), Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> maps = SegmentationFixtures.probabilities();
    output(maps).put("dtype", "uint8");
    assertRefused(parseProbabilities(maps), Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> half = SegmentationFixtures.probabilities();
    output(half).put("dtype", "float16");
    assertRefused(parseProbabilities(half), Code.OUTPUT_DTYPE_UNSUPPORTED);
  }

  @Test
  public void aResolutionThatDoesNotGoWithTheKindIsRefused() {
    Map<String, Object> mask = SegmentationFixtures.mask();
    output(mask).put("resolution", "network");
    assertRefused(parseMask(mask), Code.OUTPUT_SHAPE_INVALID);

    Map<String, Object> maps = SegmentationFixtures.probabilities();
    output(maps).put("resolution", "frame");
    assertRefused(parseProbabilities(maps), Code.OUTPUT_SHAPE_INVALID);
  }

  // ---------------------------------------------------------------- shapes and classes

  @Test
  public void aMaskShapeThatIsNotTwoDimensionalIsRefused() {
    for (Object shape : list(list("H"), list(1L, "H", "W"), list("H", 0L), "HW", list())) {
      Map<String, Object> m = SegmentationFixtures.mask();
      output(m).put("shape", shape);
      assertRefused(parseMask(m), Code.OUTPUT_SHAPE_INVALID);
    }
  }

  @Test
  public void aMaskCanNameAtMost256Classes() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("labels");
    output(m).put("num_classes", 256L);
    assertAccepted(parseMask(m));
    output(m).put("num_classes", 257L);
    assertRefused(parseMask(m), Code.OUTPUT_NUM_CLASSES_INVALID);
    output(m).put("num_classes", 0L);
    assertRefused(parseMask(m), Code.OUTPUT_NUM_CLASSES_INVALID);
  }

  @Test
  public void aMaskWithoutClassCountOrLabelsIsRefused() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("labels");
    output(m).remove("num_classes");
    assertRefused(parseMask(m), Code.OUTPUT_NUM_CLASSES_INVALID);
  }

  @Test
  public void labelsThatDoNotMatchTheClassesAreRefused() {
    Map<String, Object> m = SegmentationFixtures.mask();
    output(m).put("num_classes", 5L);
    assertRefused(parseMask(m), Code.LABELS_COUNT_MISMATCH);

    Map<String, Object> maps = SegmentationFixtures.probabilities();
    maps.put("labels", list("background", "circle"));
    assertRefused(parseProbabilities(maps), Code.LABELS_COUNT_MISMATCH);
  }

  @Test
  public void mapShapesMustBeKByHByW() {
    for (Object shape : list(list(7L, 64L), list(1L, 7L, 64L, 64L), list(7L, 0L, 64L), list(7L, 65536L, 65536L), null)) {
      Map<String, Object> m = SegmentationFixtures.probabilities();
      if (shape == null) output(m).remove("shape");
      else output(m).put("shape", shape);
      assertRefused(parseProbabilities(m), Code.OUTPUT_SHAPE_INVALID);
    }
    Map<String, Object> k = SegmentationFixtures.probabilities();
    output(k).put("shape", list(6L, 64L, 64L));
    assertRefused(parseProbabilities(k), Code.OUTPUT_NUM_CLASSES_INVALID);
  }

  @Test
  public void mapsMustBeAtTheNetworkInputResolution() {
    Map<String, Object> m = SegmentationFixtures.probabilities();
    preprocess(m).put("input_size", list(3L, 128L, 64L));
    Manifest parsed = parseProbabilities(m);
    assertRefused(parsed, Code.OUTPUT_SHAPE_INVALID);
    assertTrue(parsed.check().userMessage(), parsed.check().userMessage().contains("64×64 (output.shape)"));

    Map<String, Object> notThree = SegmentationFixtures.probabilities();
    preprocess(notThree).put("input_size", list(64L, 64L));
    assertRefused(parseProbabilities(notThree), Code.OUTPUT_SHAPE_INVALID);
  }

  @Test
  public void mapsNeedAKnownResizePolicy() {
    Map<String, Object> absent = SegmentationFixtures.probabilities();
    preprocess(absent).remove("resize_policy");
    assertRefused(parseProbabilities(absent), Code.RESIZE_POLICY_UNSUPPORTED);

    Map<String, Object> crop = SegmentationFixtures.probabilities();
    preprocess(crop).put("resize_policy", "center_crop");
    assertRefused(parseProbabilities(crop), Code.RESIZE_POLICY_UNSUPPORTED);

    Map<String, Object> noPreprocess = SegmentationFixtures.probabilities();
    noPreprocess.remove("preprocess");
    assertRefused(parseProbabilities(noPreprocess), Code.RESIZE_POLICY_UNSUPPORTED);

    // a mask needs none: the file mapped it to the frame itself
    Map<String, Object> mask = SegmentationFixtures.mask();
    mask.remove("preprocess");
    assertAccepted(parseMask(mask));
  }

  @Test
  public void unknownActivationsAreRefused() {
    Map<String, Object> m = SegmentationFixtures.probabilities();
    output(m).put("activation", "l2norm");
    assertRefused(parseProbabilities(m), Code.OUTPUT_KIND_UNSUPPORTED);
  }

  // ---------------------------------------------------------------- one sigmoid map

  private static Map<String, Object> binary(Object activation, Object labels) {
    Map<String, Object> m = SegmentationFixtures.probabilities();
    output(m).put("num_classes", 1L);
    output(m).put("shape", list(1L, 64L, 64L));
    if (activation == null) output(m).remove("activation");
    else output(m).put("activation", activation);
    if (labels == null) m.remove("labels");
    else m.put("labels", labels);
    return m;
  }

  @Test
  public void oneSigmoidMapIsBackgroundAndOneClass() {
    SegmentationSpec one = parseProbabilities(binary("sigmoid", list("person"))).getSegmentation();
    assertTrue(one.isBinarySigmoid());
    assertEquals(1, one.getNumClasses());
    assertEquals(2, one.getClassCount());
    assertEquals("background", one.className(0));
    assertEquals("person", one.className(1));

    SegmentationSpec two = parseProbabilities(binary("sigmoid", list("background", "foreground"))).getSegmentation();
    assertEquals("background", two.className(0));
    assertEquals("foreground", two.className(1));

    SegmentationSpec none = parseProbabilities(binary("sigmoid", null)).getSegmentation();
    assertEquals("foreground", none.className(1));

    assertRefused(parseProbabilities(binary("sigmoid", list("a", "b", "c"))), Code.LABELS_COUNT_MISMATCH);
  }

  @Test
  public void oneMapWithoutSigmoidIsRefused() {
    assertRefused(parseProbabilities(binary("softmax", list("person"))), Code.OUTPUT_KIND_UNSUPPORTED);
    assertRefused(parseProbabilities(binary(null, list("person"))), Code.OUTPUT_KIND_UNSUPPORTED);
  }

  // ---------------------------------------------------------------- messages

  @Test
  public void taskMessagesNameSegmentation() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("task");
    assertTrue(parseMask(m).check().userMessage().contains("\"segmentation\""));
    m.put("task", "detection");
    assertTrue(parseMask(m).check().userMessage().contains("\"segmentation\" models"));
  }
}
