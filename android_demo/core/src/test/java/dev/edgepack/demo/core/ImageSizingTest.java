package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import dev.edgepack.demo.core.ImageSizing.ImageSizeException;
import dev.edgepack.demo.core.ImageSizing.Plan;
import java.util.Arrays;
import java.util.Map;
import org.junit.Test;

public class ImageSizingTest {

  private static InputSpec spec(long minSide, long maxSide, boolean downscaleOk) {
    Map<String, Object> m = Fixtures.manifestMap();
    Map<String, Object> in = Fixtures.child(m, "input");
    in.put("min_side", minSide);
    in.put("max_side", maxSide);
    in.put("downscale_ok", downscaleOk);
    return Fixtures.reparse(m).getInput();
  }

  private static void assertPlan(Plan p, int w, int h, boolean scaled) {
    assertEquals(w, p.width);
    assertEquals(h, p.height);
    assertEquals(scaled, p.scaled);
  }

  @Test
  public void smallImagesUntouched() throws Exception {
    assertPlan(ImageSizing.plan(640, 480, spec(16, 4096, true), 1024), 640, 480, false);
    assertPlan(ImageSizing.plan(1024, 10, spec(1, 4096, true), 1024), 1024, 10, false);
  }

  @Test
  public void largeImagesShrunkWhenAllowed() throws Exception {
    // 12 MP photo, app cap 1024: longer side to 1024, aspect kept
    assertPlan(ImageSizing.plan(4000, 3000, spec(16, 4096, true), 1024), 1024, 768, true);
    assertPlan(ImageSizing.plan(3000, 4000, spec(16, 4096, true), 1024), 768, 1024, true);
    // no app cap: only the model's max_side applies
    assertPlan(ImageSizing.plan(8000, 6000, spec(16, 4096, true), 0), 4096, 3072, true);
    assertPlan(ImageSizing.plan(4000, 3000, spec(16, 4096, true), 0), 4000, 3000, false);
    // app cap above max_side: max_side wins
    assertPlan(ImageSizing.plan(5000, 2500, spec(16, 2000, true), 3000), 2000, 1000, true);
  }

  @Test
  public void largeImagesRefusedWhenDownscaleNotAllowed() throws Exception {
    // within max_side: used as is, even above the app's cap
    assertPlan(ImageSizing.plan(4000, 3000, spec(16, 4096, false), 1024), 4000, 3000, false);
    try {
      ImageSizing.plan(5000, 3000, spec(16, 4096, false), 1024);
      fail("accepted an image above max_side without downscale_ok");
    } catch (ImageSizeException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("downscale_ok"));
      assertTrue(e.getMessage(), e.getMessage().contains("4096"));
    }
  }

  @Test
  public void tooSmallRefused() {
    try {
      ImageSizing.plan(640, 8, spec(16, 4096, true), 1024);
      fail();
    } catch (ImageSizeException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("at least 16"));
    }
    try {
      ImageSizing.plan(0, 10, spec(1, 4096, true), 1024);
      fail();
    } catch (ImageSizeException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("empty"));
    }
  }

  @Test
  public void elongatedImagesShrinkOnlyAsFarAsNeeded() throws Exception {
    // 4000x40 at the app's cap 1024 would be 1024x10 (< min 16): the model's own limit applies
    assertPlan(ImageSizing.plan(4000, 40, spec(16, 4096, true), 1024), 4000, 40, false);
    assertPlan(ImageSizing.plan(8000, 80, spec(16, 4096, true), 1024), 4096, 41, true);
    try {
      ImageSizing.plan(20000, 40, spec(16, 4096, true), 1024);
      fail();
    } catch (ImageSizeException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("elongated"));
    }
  }

  @Test
  public void appCapNeverBelowMinSide() throws Exception {
    Plan p = ImageSizing.plan(1000, 1000, spec(300, 4096, true), 100);
    assertPlan(p, 300, 300, true);
  }

  @Test
  public void sampleSize() {
    assertEquals(1, ImageSizing.sampleSizeFor(1000, 800, 1024));
    assertEquals(1, ImageSizing.sampleSizeFor(2047, 1000, 1024));
    assertEquals(2, ImageSizing.sampleSizeFor(2048, 1000, 1024));
    assertEquals(2, ImageSizing.sampleSizeFor(3000, 4000, 1024));
    assertEquals(4, ImageSizing.sampleSizeFor(4096, 3072, 1024));
    assertEquals(1, ImageSizing.sampleSizeFor(4096, 3072, 0));
  }

  @Test
  public void previewIsScaledToTheScreenNotTheModel() {
    // an 8192 px image the model takes whole (downscale_ok false) is shown at most 1280 px
    assertPlan(ImageSizing.previewSize(8192, 6144, 1280), 1280, 960, true);
    assertPlan(ImageSizing.previewSize(6144, 8192, 1280), 960, 1280, true);
    assertPlan(ImageSizing.previewSize(8192, 10, 1280), 1280, 2, true);
    assertPlan(ImageSizing.previewSize(8192, 1, 1280), 1280, 1, true); // never 0 px
    assertPlan(ImageSizing.previewSize(640, 480, 1280), 640, 480, false); // never enlarged
    assertPlan(ImageSizing.previewSize(1280, 1280, 1280), 1280, 1280, false);
  }

  @Test(expected = IllegalArgumentException.class)
  public void previewOfEmptyImage() {
    ImageSizing.previewSize(0, 10, 1280);
  }

  /** A .pte takes frames up to its max_side (1920 by default): the app shrinks anything larger. */
  @Test
  public void pteFramesShrunkToMaxSide() throws Exception {
    InputSpec pte = Manifest.parse(Fixtures.manifestText(ModelFormat.PTE), ModelFormat.PTE).getInput();
    assertEquals(1920, pte.getMaxSide());
    // Full-HD in either orientation goes in as is (no app cap)
    assertPlan(ImageSizing.plan(1920, 1080, pte, 0), 1920, 1080, false);
    assertPlan(ImageSizing.plan(1080, 1920, pte, 0), 1080, 1920, false);
    // larger photos: longer side to max_side, aspect kept
    assertPlan(ImageSizing.plan(4000, 3000, pte, 0), 1920, 1440, true);
    assertPlan(ImageSizing.plan(3000, 4000, pte, 0), 1440, 1920, true);
    assertPlan(ImageSizing.plan(4032, 1816, pte, 0), 1920, 865, true);
    // the app's own cap (1024) is below max_side: it wins
    assertPlan(ImageSizing.plan(4000, 3000, pte, 1024), 1024, 768, true);
    // every plan fits the model
    for (int[] wh : new int[][] {{8192, 8192}, {1921, 16}, {20000, 200}, {16, 16}, {1919, 1920}}) {
      ImageSizing.Plan p = ImageSizing.plan(wh[0], wh[1], pte, 0);
      assertTrue(p.toString(), Math.max(p.width, p.height) <= 1920);
      assertTrue(p.toString(), Math.min(p.width, p.height) >= 16);
    }
    // a .pte whose manifest forbids shrinking refuses larger frames, as the program would
    Map<String, Object> m = Fixtures.manifestMap(ModelFormat.PTE);
    Fixtures.child(m, "input").put("downscale_ok", false);
    InputSpec strict = Fixtures.reparse(m, ModelFormat.PTE).getInput();
    try {
      ImageSizing.plan(1921, 1080, strict, 1024);
      fail();
    } catch (ImageSizeException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("at most 1920"));
    }
  }

  @Test
  public void fixtureSpecDefaultsUsable() throws Exception {
    InputSpec in = Manifest.parse(Fixtures.manifestText()).getInput();
    Plan p = ImageSizing.plan(TestImage.DEFAULT_WIDTH, TestImage.DEFAULT_HEIGHT, in, 1024);
    assertFalse(p.scaled);
    assertEquals(Arrays.asList(TestImage.DEFAULT_WIDTH, TestImage.DEFAULT_HEIGHT), Arrays.asList(p.width, p.height));
  }
}
