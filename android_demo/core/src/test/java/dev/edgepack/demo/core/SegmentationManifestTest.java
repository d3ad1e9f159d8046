package dev.edgepack.demo.core;

import static dev.edgepack.demo.core.SegmentationFixtures.list;
import static dev.edgepack.demo.core.SegmentationFixtures.output;
import static dev.edgepack.demo.core.SegmentationFixtures.parsePte;
import static dev.edgepack.demo.core.SegmentationFixtures.parsePtl;
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
 * manifests of real edgepack builds are accepted with their values, and every way the app could
 * draw a wrong overlay is refused before the model runs, with the right code.
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
    Manifest m = parsePtl(SegmentationFixtures.mask());
    assertAccepted(m);
    assertTrue(m.check().getIssues().toString(), m.check().getIssues().isEmpty());
    assertEquals(Task.SEGMENTATION, m.getTask());
    assertEquals(ModelFormat.PTL, m.getFormat());
    SegmentationSpec s = m.getSegmentation();
    assertEquals(SegmentationSpec.Kind.MASK, s.getKind());
    assertTrue(s.isMask());
    assertEquals(7, s.getNumClasses());
    assertEquals(7, s.getClassCount());
    assertEquals(7, m.getNumClasses());
    assertEquals(SegmentationFixtures.SHAPE_LABELS, m.getLabels());
    assertNull("a mask is at the frame's resolution: no resize policy needed", s.getResizePolicy());
    assertEquals(-1, s.getInputHeight());
    assertEquals("background", s.className(0));
    assertEquals("triangle", s.className(6));
    assertArrayEquals(new long[] {480, 640}, s.expectedShape(640, 480));
    assertEquals(MaskBox.whole(640, 480), s.frameBox(640, 480));
    assertEquals("mask", m.getOutput().getKind());
    assertEquals("uint8", m.getOutput().getDtype());
    assertTrue(m.describe(), m.describe().contains("7 classes · segmentation (class mask)"));
  }

  @Test
  public void letterboxMapsFixtureIsUsable() {
    Manifest m = parsePtl(SegmentationFixtures.mapsLetterbox());
    assertAccepted(m);
    assertTrue(m.check().getIssues().toString(), m.check().getIssues().isEmpty());
    SegmentationSpec s = m.getSegmentation();
    assertEquals(SegmentationSpec.Kind.PROBABILITIES, s.getKind());
    assertEquals(7, s.getNumClasses());
    // the maps are at the network's output resolution, a quarter of its 128x128 input
    assertEquals(32, s.getMapHeight());
    assertEquals(32, s.getMapWidth());
    assertEquals(128, s.getInputHeight());
    assertEquals(128, s.getInputWidth());
    assertEquals("softmax", s.getActivation());
    assertEquals(SegmentationSpec.ResizePolicy.LETTERBOX, s.getResizePolicy());
    assertFalse(s.isBinarySigmoid());
    assertArrayEquals(new long[] {7, 32, 32}, s.expectedShape(640, 480));
    assertTrue(m.describe(), m.describe().contains("segmentation (per-class maps, letterbox)"));
    assertTrue(s.describe(), s.describe().contains("7 per-class maps at 32×32 from a 128×128 input (softmax, letterbox)"));
  }

  @Test
  public void pteMapsFixtureIsUsable() {
    Manifest m = parsePte(SegmentationFixtures.mapsPte());
    assertAccepted(m);
    assertTrue(m.check().getIssues().toString(), m.check().getIssues().isEmpty());
    assertEquals(ModelFormat.PTE, m.getFormat());
    assertEquals("1.3.1", m.getExecutorchVersion());
    assertEquals(1920, m.getInput().getMaxSide());
    SegmentationSpec s = m.getSegmentation();
    assertEquals(SegmentationSpec.Kind.PROBABILITIES, s.getKind());
    assertEquals(32, s.getMapHeight());
    assertEquals(32, s.getMapWidth());
    assertEquals(128, s.getInputHeight());
    assertEquals(128, s.getInputWidth());
    assertEquals(SegmentationSpec.ResizePolicy.SQUASH, s.getResizePolicy());
    assertArrayEquals(new long[] {7, 32, 32}, s.expectedShape(1920, 1080));
    assertEquals("squash: the whole map covers the frame", MaskBox.whole(32, 32), s.frameBox(1920, 1080));
  }

  @Test
  public void theFixturesFrameMappingTextsSayWhatTheAppDoes() {
    // output.frame_mapping is for people (the app does not parse it); these pin the fixtures to the
    // mapping MaskBox implements, so a rebuilt fixture that says otherwise fails here
    assertEquals(
        "letterbox: s = min(128/H, 128/W); the frame fills (rh, rw) = (round(H*s), round(W*s)) of the"
            + " 128x128 network input from ((128 - rh) // 2, (128 - rw) // 2); map coordinates scale"
            + " by 32/128 vertically and 32/128 horizontally",
        output(SegmentationFixtures.mapsLetterbox()).get("frame_mapping"));
    assertEquals(
        "the map covers the whole frame, stretched (squash)",
        output(SegmentationFixtures.mapsPte()).get("frame_mapping"));
    assertEquals(
        "mask pixel (y, x) is frame pixel (y, x)", output(SegmentationFixtures.mask()).get("frame_mapping"));
  }

  @Test
  public void squashIsAccepted() {
    Map<String, Object> m = SegmentationFixtures.mapsLetterbox();
    preprocess(m).put("resize_policy", "squash");
    assertEquals(SegmentationSpec.ResizePolicy.SQUASH, parsePtl(m).getSegmentation().getResizePolicy());
  }

  @Test
  public void optionalFieldsMayBeAbsent() {
    Map<String, Object> mask = SegmentationFixtures.mask();
    output(mask).remove("shape");
    output(mask).remove("resolution");
    output(mask).remove("dtype");
    output(mask).remove("values");
    output(mask).remove("num_classes"); // the labels' count then
    preprocess(mask).remove("input_size"); // not read for a mask
    Manifest m = parsePtl(mask);
    assertAccepted(m);
    assertEquals(7, m.getSegmentation().getNumClasses());

    Map<String, Object> maps = SegmentationFixtures.mapsLetterbox();
    output(maps).remove("num_classes"); // the shape's K then
    output(maps).remove("resolution");
    output(maps).remove("frame_mapping");
    output(maps).remove("activation"); // argmax over 7 maps does not depend on it
    Manifest p = parsePtl(maps);
    assertAccepted(p);
    assertEquals(7, p.getSegmentation().getNumClasses());
  }

  @Test
  public void noLabelsIsAWarningAndNamesAreClassN() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("labels");
    Manifest parsed = parsePtl(m);
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
      assertRefused(parsePtl(m), Code.OUTPUT_KIND_UNSUPPORTED);
    }
    Map<String, Object> absent = SegmentationFixtures.mask();
    output(absent).remove("kind");
    Manifest parsed = parsePtl(absent);
    assertRefused(parsed, Code.OUTPUT_KIND_UNSUPPORTED);
    assertTrue(parsed.check().userMessage(), parsed.check().userMessage().contains("\"mask\""));
  }

  @Test
  public void aMaskOutputWithAClassifierTaskIsRefused() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.put("task", "multiclass");
    Manifest parsed = parsePtl(m);
    assertFalse(parsed.check().isCompatible());
    assertTrue(parsed.check().has(Code.OUTPUT_KIND_UNSUPPORTED));
    assertTrue(parsed.check().userMessage(), parsed.check().userMessage().contains("\"segmentation\""));
  }

  @Test
  public void wrongDtypesAreRefused() {
    Map<String, Object> mask = SegmentationFixtures.mask();
    output(mask).put("dtype", "float32");
    assertRefused(parsePtl(mask), Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> mask64 = SegmentationFixtures.mask();
    output(mask64).put("dtype", "int64");
    assertRefused(parsePtl(mask64), Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> maps = SegmentationFixtures.mapsLetterbox();
    output(maps).put("dtype", "uint8");
    assertRefused(parsePtl(maps), Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> half = SegmentationFixtures.mapsLetterbox();
    output(half).put("dtype", "float16");
    assertRefused(parsePtl(half), Code.OUTPUT_DTYPE_UNSUPPORTED);
  }

  @Test
  public void aResolutionThatDoesNotGoWithTheKindIsRefused() {
    Map<String, Object> mask = SegmentationFixtures.mask();
    output(mask).put("resolution", "network");
    assertRefused(parsePtl(mask), Code.OUTPUT_SHAPE_INVALID);

    Map<String, Object> maps = SegmentationFixtures.mapsLetterbox();
    output(maps).put("resolution", "frame");
    assertRefused(parsePtl(maps), Code.OUTPUT_SHAPE_INVALID);
  }

  // ---------------------------------------------------------------- shapes and classes

  @Test
  public void aMaskShapeThatIsNotTwoDimensionalIsRefused() {
    for (Object shape : list(list("H"), list(1L, "H", "W"), list("H", 0L), "HW", list())) {
      Map<String, Object> m = SegmentationFixtures.mask();
      output(m).put("shape", shape);
      assertRefused(parsePtl(m), Code.OUTPUT_SHAPE_INVALID);
    }
  }

  @Test
  public void aMaskCanNameAtMost256Classes() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("labels");
    output(m).put("num_classes", 256L);
    assertAccepted(parsePtl(m));
    output(m).put("num_classes", 257L);
    assertRefused(parsePtl(m), Code.OUTPUT_NUM_CLASSES_INVALID);
    output(m).put("num_classes", 0L);
    assertRefused(parsePtl(m), Code.OUTPUT_NUM_CLASSES_INVALID);
  }

  @Test
  public void aMaskWithoutClassCountOrLabelsIsRefused() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("labels");
    output(m).remove("num_classes");
    assertRefused(parsePtl(m), Code.OUTPUT_NUM_CLASSES_INVALID);
  }

  @Test
  public void labelsThatDoNotMatchTheClassesAreRefused() {
    Map<String, Object> m = SegmentationFixtures.mask();
    output(m).put("num_classes", 5L);
    assertRefused(parsePtl(m), Code.LABELS_COUNT_MISMATCH);

    Map<String, Object> maps = SegmentationFixtures.mapsLetterbox();
    maps.put("labels", list("background", "circle"));
    assertRefused(parsePtl(maps), Code.LABELS_COUNT_MISMATCH);
  }

  @Test
  public void mapShapesMustBeKByHByW() {
    for (Object shape : list(list(7L, 64L), list(1L, 7L, 64L, 64L), list(7L, 0L, 64L), list(7L, 65536L, 65536L), null)) {
      Map<String, Object> m = SegmentationFixtures.mapsLetterbox();
      if (shape == null) output(m).remove("shape");
      else output(m).put("shape", shape);
      assertRefused(parsePtl(m), Code.OUTPUT_SHAPE_INVALID);
    }
    Map<String, Object> k = SegmentationFixtures.mapsLetterbox();
    output(k).put("shape", list(6L, 64L, 64L));
    assertRefused(parsePtl(k), Code.OUTPUT_NUM_CLASSES_INVALID);
  }

  @Test
  public void mapsNeedNotBeAtTheNetworkInputResolution() {
    // the real fixture: [7, 32, 32] maps from a 128x128 input (stride 4), accepted above; maps at
    // the input's size (smp, torchvision), sizes that divide nothing, even maps larger than the
    // input are a mapping the app can follow
    long[][] mapAndInput = {{128, 128, 128, 128}, {33, 17, 96, 128}, {200, 300, 100, 150}};
    for (long[] c : mapAndInput) {
      Map<String, Object> m = SegmentationFixtures.mapsLetterbox();
      output(m).put("shape", list(7L, c[0], c[1]));
      preprocess(m).put("input_size", list(3L, c[2], c[3]));
      Manifest parsed = parsePtl(m);
      assertAccepted(parsed);
      SegmentationSpec s = parsed.getSegmentation();
      assertEquals(c[0], s.getMapHeight());
      assertEquals(c[1], s.getMapWidth());
      assertEquals(c[2], s.getInputHeight());
      assertEquals(c[3], s.getInputWidth());
    }
  }

  @Test
  public void mapsNeedTheNetworkInputSize() {
    Map<String, Object> absent = SegmentationFixtures.mapsLetterbox();
    preprocess(absent).remove("input_size");
    Manifest parsed = parsePtl(absent);
    assertRefused(parsed, Code.OUTPUT_SHAPE_INVALID);
    assertTrue(parsed.check().userMessage(), parsed.check().userMessage().contains("no preprocess.input_size"));

    // squash does not use it today, but it is the same contract (and always written)
    Map<String, Object> squash = SegmentationFixtures.mapsPte();
    preprocess(squash).remove("input_size");
    assertRefused(parsePte(squash), Code.OUTPUT_SHAPE_INVALID);

    Map<String, Object> nul = SegmentationFixtures.mapsLetterbox();
    preprocess(nul).put("input_size", null);
    assertRefused(parsePtl(nul), Code.OUTPUT_SHAPE_INVALID);
  }

  @Test
  public void anInputSizeThatIsNotThreeByHByWIsRefused() {
    for (Object size : list(
        list(128L, 128L), list(3L, 128L), list(1L, 3L, 128L, 128L), list(1L, 128L, 128L),
        list(4L, 128L, 128L), list(3L, 0L, 128L), list(3L, 128L, 0L), list(3L, -1L, 128L),
        list(3L, 128.5, 128L), list(3L, "128", 128L), list(3L, 3000000000L, 128L), "128", 128L, list())) {
      Map<String, Object> m = SegmentationFixtures.mapsLetterbox();
      preprocess(m).put("input_size", size);
      Manifest parsed = parsePtl(m);
      assertRefused(parsed, Code.OUTPUT_SHAPE_INVALID);
      assertTrue(size + ": " + parsed.check().userMessage(),
          parsed.check().userMessage().contains("preprocess.input_size"));
    }
  }

  @Test
  public void mapsNeedAKnownResizePolicy() {
    Map<String, Object> absent = SegmentationFixtures.mapsLetterbox();
    preprocess(absent).remove("resize_policy");
    assertRefused(parsePtl(absent), Code.RESIZE_POLICY_UNSUPPORTED);

    Map<String, Object> crop = SegmentationFixtures.mapsLetterbox();
    preprocess(crop).put("resize_policy", "center_crop");
    assertRefused(parsePtl(crop), Code.RESIZE_POLICY_UNSUPPORTED);

    Map<String, Object> noPreprocess = SegmentationFixtures.mapsLetterbox();
    noPreprocess.remove("preprocess");
    assertRefused(parsePtl(noPreprocess), Code.RESIZE_POLICY_UNSUPPORTED);

    // a mask needs none: the file mapped it to the frame itself
    Map<String, Object> mask = SegmentationFixtures.mask();
    mask.remove("preprocess");
    assertAccepted(parsePtl(mask));
  }

  @Test
  public void unknownActivationsAreRefused() {
    Map<String, Object> m = SegmentationFixtures.mapsLetterbox();
    output(m).put("activation", "l2norm");
    assertRefused(parsePtl(m), Code.OUTPUT_KIND_UNSUPPORTED);
  }

  // ---------------------------------------------------------------- one sigmoid map

  private static Map<String, Object> binary(Object activation, Object labels) {
    Map<String, Object> m = SegmentationFixtures.mapsLetterbox();
    output(m).put("num_classes", 1L);
    output(m).put("shape", list(1L, 32L, 32L));
    if (activation == null) output(m).remove("activation");
    else output(m).put("activation", activation);
    if (labels == null) m.remove("labels");
    else m.put("labels", labels);
    return m;
  }

  @Test
  public void oneSigmoidMapIsBackgroundAndOneClass() {
    SegmentationSpec one = parsePtl(binary("sigmoid", list("person"))).getSegmentation();
    assertTrue(one.isBinarySigmoid());
    assertEquals(1, one.getNumClasses());
    assertEquals(2, one.getClassCount());
    assertEquals("background", one.className(0));
    assertEquals("person", one.className(1));

    SegmentationSpec two = parsePtl(binary("sigmoid", list("background", "foreground"))).getSegmentation();
    assertEquals("background", two.className(0));
    assertEquals("foreground", two.className(1));

    SegmentationSpec none = parsePtl(binary("sigmoid", null)).getSegmentation();
    assertEquals("foreground", none.className(1));

    assertRefused(parsePtl(binary("sigmoid", list("a", "b", "c"))), Code.LABELS_COUNT_MISMATCH);
  }

  @Test
  public void oneMapWithoutSigmoidIsRefused() {
    assertRefused(parsePtl(binary("softmax", list("person"))), Code.OUTPUT_KIND_UNSUPPORTED);
    assertRefused(parsePtl(binary(null, list("person"))), Code.OUTPUT_KIND_UNSUPPORTED);
  }

  // ---------------------------------------------------------------- messages

  @Test
  public void taskMessagesNameSegmentation() {
    Map<String, Object> m = SegmentationFixtures.mask();
    m.remove("task");
    assertTrue(parsePtl(m).check().userMessage().contains("\"segmentation\""));
    m.put("task", "detection");
    assertTrue(parsePtl(m).check().userMessage().contains("\"segmentation\" models"));
  }
}
