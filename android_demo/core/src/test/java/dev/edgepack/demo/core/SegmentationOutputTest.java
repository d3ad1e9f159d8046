package dev.edgepack.demo.core;

import static dev.edgepack.demo.core.SegmentationFixtures.maskOutput;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Collections;
import java.util.function.IntBinaryOperator;
import org.junit.Test;

/**
 * The run-time check of a segmentation model's output against its manifest and the frame, and its
 * decoding into a mask that covers exactly the frame (letterbox padding cut away).
 */
public class SegmentationOutputTest {
  private static final SegmentationSpec MASK3 =
      SegmentationSpec.mask(3, Arrays.asList("background", "person", "car"));

  /** [k, h, w] maps at the network input's own resolution (as smp and torchvision models return). */
  private static SegmentationSpec maps(int k, int h, int w, SegmentationSpec.ResizePolicy policy) {
    return maps(k, h, w, h, w, policy);
  }

  /** [k, h, w] maps from a netH × netW network input. */
  private static SegmentationSpec maps(int k, int h, int w, int netH, int netW, SegmentationSpec.ResizePolicy policy) {
    return SegmentationSpec.probabilities(k, "softmax", h, w, netH, netW, policy, Collections.<String>emptyList());
  }

  private static void assertProblem(String problem, String... parts) {
    assertTrue("expected a problem", problem != null);
    for (String p : parts) assertTrue(problem + " should contain " + p, problem.contains(p));
  }

  // ---------------------------------------------------------------- masks

  @Test
  public void aMaskOfTheFrameIsAccepted() {
    ModelOutput out = maskOutput(3, 2, 0, 1, 2, 2, 1, 0);
    assertNull(SegmentationOutput.problem(out, MASK3, 3, 2));
    ClassMask m = SegmentationOutput.decode(out, MASK3, 3, 2);
    assertEquals(3, m.getWidth());
    assertEquals(2, m.getHeight());
    assertEquals(2, m.classAt(2, 0));
    assertEquals(0, m.classAt(2, 1));
  }

  @Test
  public void aOneByOneMask() {
    assertNull(SegmentationOutput.problem(maskOutput(1, 1, 2), MASK3, 1, 1));
    assertProblem(SegmentationOutput.problem(maskOutput(1, 1, 3), MASK3, 1, 1), "class index 3 at pixel (0, 0)");
  }

  @Test
  public void classIndicesAtOrAboveKAreRefusedWithWhereAndHowMany() {
    ModelOutput out = maskOutput(3, 2, 0, 1, 2, 7, 1, 3);
    assertProblem(
        SegmentationOutput.problem(out, MASK3, 3, 2),
        "class index 7 at pixel (0, 1)", "2 pixels with indices up to 7", "3 classes (0 to 2)",
        "do not match");
    try {
      SegmentationOutput.decode(out, MASK3, 3, 2);
      fail("decode must not colour unknown classes");
    } catch (IllegalArgumentException expected) {
      assertTrue(expected.getMessage().contains("class index 7"));
    }
  }

  @Test
  public void binaryMasksAllowZeroAndOne() {
    SegmentationSpec binary = SegmentationSpec.mask(2, Arrays.asList("background", "foreground"));
    assertNull(SegmentationOutput.problem(maskOutput(2, 1, 0, 1), binary, 2, 1));
    assertProblem(SegmentationOutput.problem(maskOutput(2, 1, 0, 255), binary, 2, 1), "class index 255");
    // K = 1: only 0 is a class
    SegmentationSpec one = SegmentationSpec.mask(1, Collections.<String>emptyList());
    assertProblem(SegmentationOutput.problem(maskOutput(2, 1, 0, 1), one, 2, 1), "1 class (0 to 0)");
  }

  @Test
  public void with255Or256ClassesTheTopValuesAreChecked() {
    SegmentationSpec k255 = SegmentationSpec.mask(255, Collections.<String>emptyList());
    assertNull(SegmentationOutput.problem(maskOutput(2, 1, 0, 254), k255, 2, 1));
    assertProblem(SegmentationOutput.problem(maskOutput(2, 1, 0, 255), k255, 2, 1), "class index 255");
    SegmentationSpec k256 = SegmentationSpec.mask(256, Collections.<String>emptyList());
    assertNull(SegmentationOutput.problem(maskOutput(2, 1, 0, 255), k256, 2, 1));
  }

  @Test
  public void aMaskThatIsNotTheFramesSizeIsRefused() {
    // transposed
    assertProblem(
        SegmentationOutput.problem(maskOutput(2, 3, 0, 0, 0, 0, 0, 0), MASK3, 3, 2),
        "shape [3, 2] for a 3×2 image", "[2, 3]");
    // with a batch dimension
    ModelOutput batched = ModelOutput.uint8(new long[] {1, 2, 3}, new byte[6]);
    assertProblem(SegmentationOutput.problem(batched, MASK3, 3, 2), "[1, 2, 3]");
    // at the network's resolution (a manifest that says "mask" for what is not at the frame's)
    assertProblem(SegmentationOutput.problem(maskOutput(2, 2, 0, 0, 0, 0), MASK3, 640, 480), "[480, 640]");
  }

  @Test
  public void aMaskOfTheWrongDtypeIsRefused() {
    ModelOutput floats = ModelOutput.float32(new long[] {2, 3}, new float[6]);
    assertProblem(SegmentationOutput.problem(floats, MASK3, 3, 2), "float32 values [2, 3]", "uint8 class mask");
    ModelOutput longs = ModelOutput.other("int64", new long[] {2, 3});
    assertProblem(SegmentationOutput.problem(longs, MASK3, 3, 2), "int64 values");
    assertProblem(SegmentationOutput.problem(null, MASK3, 3, 2), "no output");
  }

  // ---------------------------------------------------------------- per-class maps

  @Test
  public void mapsOfTheWrongShapeOrDtypeAreRefused() {
    SegmentationSpec spec = maps(3, 4, 4, SegmentationSpec.ResizePolicy.SQUASH);
    assertNull(SegmentationOutput.problem(ModelOutput.float32(new long[] {3, 4, 4}, new float[48]), spec, 640, 480));
    assertProblem(
        SegmentationOutput.problem(ModelOutput.float32(new long[] {1, 3, 4, 4}, new float[48]), spec, 640, 480),
        "[1, 3, 4, 4]", "[3, 4, 4]");
    assertProblem(
        SegmentationOutput.problem(ModelOutput.float32(new long[] {4, 4, 3}, new float[48]), spec, 640, 480),
        "[4, 4, 3]");
    assertProblem(
        SegmentationOutput.problem(ModelOutput.uint8(new long[] {3, 4, 4}, new byte[48]), spec, 640, 480),
        "uint8 values", "float32 per-class map");
  }

  @Test
  public void nonFiniteMapValuesAreRefused() {
    SegmentationSpec spec = maps(2, 1, 2, SegmentationSpec.ResizePolicy.SQUASH);
    float[] v = {0.1f, Float.NaN, 0.9f, 0.2f};
    assertProblem(SegmentationOutput.problem(ModelOutput.float32(new long[] {2, 1, 2}, v), spec, 2, 1), "not a finite");
    v[1] = Float.POSITIVE_INFINITY;
    assertProblem(SegmentationOutput.problem(ModelOutput.float32(new long[] {2, 1, 2}, v), spec, 2, 1), "not a finite");
  }

  @Test
  public void squashedMapsCoverTheWholeFrame() {
    SegmentationSpec spec = maps(2, 2, 2, SegmentationSpec.ResizePolicy.SQUASH);
    float[] v = {
      1f, 0f, // class 0 map, row 0
      0f, 0f, //              row 1
      0f, 1f, // class 1 map
      1f, 1f,
    };
    ClassMask m = SegmentationOutput.decode(ModelOutput.float32(new long[] {2, 2, 2}, v), spec, 300, 100);
    assertEquals(2, m.getWidth());
    assertEquals(2, m.getHeight());
    assertEquals(0, m.classAt(0, 0));
    assertEquals(1, m.classAt(1, 0));
    assertEquals(1, m.classAt(0, 1));
  }

  @Test
  public void letterboxedMapsAreCutToTheFramesBox() {
    // a 8x4 frame into an 8x8 network: s = 1 -> box 8x4 at rows 2..5; the padding rows say class 2
    int h = 8;
    int w = 8;
    float[] v = new float[3 * h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int cls = (y < 2 || y >= 6) ? 2 : (x < 4 ? 0 : 1);
        v[cls * h * w + y * w + x] = 1f;
      }
    }
    SegmentationSpec spec = maps(3, h, w, SegmentationSpec.ResizePolicy.LETTERBOX);
    ClassMask m = SegmentationOutput.decode(ModelOutput.float32(new long[] {3, h, w}, v), spec, 8, 4);
    assertEquals(8, m.getWidth());
    assertEquals(4, m.getHeight());
    assertEquals("no padding class inside the frame", 1, m.maxClass());
    assertEquals(0, m.classAt(3, 0));
    assertEquals(1, m.classAt(4, 3));

    // the same maps read as squash would show the padding on the photo
    SegmentationSpec squash = maps(3, h, w, SegmentationSpec.ResizePolicy.SQUASH);
    assertEquals(2, SegmentationOutput.decode(ModelOutput.float32(new long[] {3, h, w}, v), squash, 8, 4).maxClass());
  }

  @Test
  public void letterboxWithAnOddPaddingCutsTheRightRows() {
    // frame 100x61 into 64x64: box rows 12..50 (39 rows); mark exactly those rows class 1
    int n = 64;
    float[] v = new float[2 * n * n];
    for (int y = 0; y < n; y++) {
      for (int x = 0; x < n; x++) {
        boolean inBox = y >= 12 && y < 51;
        v[(inBox ? 1 : 0) * n * n + y * n + x] = 1f;
      }
    }
    SegmentationSpec spec = maps(2, n, n, SegmentationSpec.ResizePolicy.LETTERBOX);
    ClassMask m = SegmentationOutput.decode(ModelOutput.float32(new long[] {2, n, n}, v), spec, 100, 61);
    assertEquals(64, m.getWidth());
    assertEquals(39, m.getHeight());
    for (int y = 0; y < 39; y++) assertEquals("row " + y, 1, m.classAt(0, y));
  }

  // ------------------------------------- maps at the network's output resolution (real manifests)

  /**
   * [k, h, w] maps whose most likely class is {@code inside.applyAsInt(x, y)} inside {@code box}
   * (map pixels) and class 0 in the padding around it.
   */
  private static float[] mapsWithBox(int k, int h, int w, MaskBox box, IntBinaryOperator inside) {
    float[] v = new float[k * h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        boolean in = x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height;
        v[(in ? inside.applyAsInt(x, y) : 0) * h * w + y * w + x] = 1f;
      }
    }
    return v;
  }

  private static void assertDecodedBox(ClassMask m, MaskBox box, IntBinaryOperator inside) {
    assertEquals("width", box.width, m.getWidth());
    assertEquals("height", box.height, m.getHeight());
    for (int y = 0; y < box.height; y++) {
      for (int x = 0; x < box.width; x++) {
        assertEquals("(" + x + ", " + y + ")", inside.applyAsInt(box.left + x, box.top + y), m.classAt(x, y));
      }
    }
  }

  @Test
  public void quarterResolutionLetterboxMapsOfARealManifest() {
    // probs_letterbox.ptl: [7, 32, 32] softmax maps from a 128x128 input, letterbox
    SegmentationSpec spec = SegmentationFixtures.parsePtl(SegmentationFixtures.mapsLetterbox()).getSegmentation();
    IntBinaryOperator inside = (x, y) -> 1 + (x + 2 * y) % 6;
    // a tall 460x640 frame: 92x128 of the input from column 18 -> map columns 4.5 -> 4 to 27.5 -> 28
    MaskBox tall = new MaskBox(4, 0, 24, 32);
    // a wide 640x480 frame: 128x96 of the input from row 16 -> map rows 4 to 28
    MaskBox wide = new MaskBox(0, 4, 32, 24);
    for (Object[] c : new Object[][] {{460, 640, tall}, {640, 480, wide}}) {
      int frameW = (Integer) c[0];
      int frameH = (Integer) c[1];
      MaskBox box = (MaskBox) c[2];
      assertEquals(box, spec.frameBox(frameW, frameH));
      ModelOutput out = ModelOutput.float32(new long[] {7, 32, 32}, mapsWithBox(7, 32, 32, box, inside));
      assertNull(SegmentationOutput.problem(out, spec, frameW, frameH));
      ClassMask m = SegmentationOutput.decode(out, spec, frameW, frameH);
      assertDecodedBox(m, box, inside);

      // the legend counts the frame's pixels: none of them is padding (class 0)
      SegmentationSummary summary = SegmentationSummary.of(
          m, frameW, frameH, spec, SegmentationPalette.standard());
      assertTrue(summary.toString(), !summary.getEntries().isEmpty());
      for (SegmentationSummary.Entry e : summary.getEntries()) {
        assertTrue(e + " in " + summary, e.classIndex != 0);
      }
    }
  }

  @Test
  public void quarterResolutionSquashMapsOfARealManifestCoverTheFrame() {
    // probs.pte: [7, 32, 32] softmax maps from a 128x128 input, squash: every map pixel is the photo's
    SegmentationSpec spec = SegmentationFixtures.parsePte(SegmentationFixtures.mapsPte()).getSegmentation();
    IntBinaryOperator cls = (x, y) -> (x * 3 + y) % 7;
    MaskBox whole = MaskBox.whole(32, 32);
    for (int[] frame : new int[][] {{1920, 1080}, {460, 640}, {128, 128}, {16, 1920}}) {
      assertEquals(whole, spec.frameBox(frame[0], frame[1]));
      ModelOutput out = ModelOutput.float32(new long[] {7, 32, 32}, mapsWithBox(7, 32, 32, whole, cls));
      assertDecodedBox(SegmentationOutput.decode(out, spec, frame[0], frame[1]), whole, cls);
    }
    // maps of the input's size are not what this manifest promises
    assertProblem(
        SegmentationOutput.problem(ModelOutput.float32(new long[] {7, 128, 128}, new float[7 * 128 * 128]), spec, 640, 480),
        "[7, 128, 128]", "[7, 32, 32]");
  }

  @Test
  public void mapsThatDivideNothingAreCutWhereTheFrameIs() {
    // input 96 high x 128 wide, maps [3, 33, 17]; a 640x320 frame fills rows 16..80 of the input,
    // map rows 16*33/96 = 5.5 -> 6 to 80*33/96 = 27.5 -> 28 (see MaskBoxTest)
    SegmentationSpec spec = maps(3, 33, 17, 96, 128, SegmentationSpec.ResizePolicy.LETTERBOX);
    MaskBox box = new MaskBox(0, 6, 17, 22);
    IntBinaryOperator inside = (x, y) -> 1 + (y % 2);
    ModelOutput out = ModelOutput.float32(new long[] {3, 33, 17}, mapsWithBox(3, 33, 17, box, inside));
    assertDecodedBox(SegmentationOutput.decode(out, spec, 640, 320), box, inside);
  }

  @Test
  public void aFrameThinnerThanAMapRowGetsOneRow() {
    // 1920x16 into 128x128 with 32x32 maps: 1 input row (63) -> map row 16 (see MaskBoxTest)
    SegmentationSpec spec = SegmentationFixtures.parsePtl(SegmentationFixtures.mapsLetterbox()).getSegmentation();
    MaskBox box = new MaskBox(0, 16, 32, 1);
    IntBinaryOperator inside = (x, y) -> 1 + x % 6;
    ModelOutput out = ModelOutput.float32(new long[] {7, 32, 32}, mapsWithBox(7, 32, 32, box, inside));
    assertDecodedBox(SegmentationOutput.decode(out, spec, 1920, 16), box, inside);
  }

  @Test
  public void oneSigmoidMapDecodesToBackgroundAndForeground() {
    SegmentationSpec spec = SegmentationSpec.probabilities(
        1, "sigmoid", 1, 2, 1, 2, SegmentationSpec.ResizePolicy.SQUASH, Collections.singletonList("person"));
    ClassMask m = SegmentationOutput.decode(ModelOutput.float32(new long[] {1, 1, 2}, new float[] {0.2f, 0.8f}), spec, 2, 1);
    assertEquals(0, m.classAt(0, 0));
    assertEquals(1, m.classAt(1, 0));
  }

  // ---------------------------------------------------------------- the dispatcher

  @Test
  public void outputCheckSendsEachTaskToItsCheck() {
    Manifest seg = SegmentationFixtures.parsePtl(SegmentationFixtures.mask());
    assertNull(OutputCheck.problem(maskOutput(2, 1, 0, 6), seg, 2, 1));
    assertProblem(OutputCheck.problem(maskOutput(2, 1, 0, 7), seg, 2, 1), "class index 7");

    Manifest classifier = Fixtures.reparse(Fixtures.manifestMap());
    int n = classifier.getNumClasses();
    float[] scores = new float[n];
    scores[0] = 1f;
    assertNull(OutputCheck.problem(ModelOutput.float32(new long[] {n}, scores), classifier, 640, 480));
    assertProblem(
        OutputCheck.problem(ModelOutput.uint8(new long[] {n}, new byte[n]), classifier, 640, 480),
        "uint8 values", "float32 scores");
    assertProblem(
        OutputCheck.problem(ModelOutput.float32(new long[] {3}, new float[3]), classifier, 640, 480),
        "3 scores");
    assertProblem(OutputCheck.problem(null, classifier, 1, 1), "no output");
  }

  @Test
  public void modelOutputRejectsValuesThatDoNotFillItsShape() {
    try {
      ModelOutput.uint8(new long[] {2, 3}, new byte[5]);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
    assertEquals(-1, ModelOutput.other("int64", new long[] {-1, 3}).elementCount());
  }
}
