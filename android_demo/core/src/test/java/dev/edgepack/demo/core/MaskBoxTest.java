package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import org.junit.Test;

/** The part of per-class maps that shows the frame: letterbox arithmetic as the model does it. */
public class MaskBoxTest {

  @Test
  public void squashIsTheWholeMap() {
    // maps at the input's size, and maps at a quarter of it: the whole map either way
    assertEquals(new MaskBox(0, 0, 64, 48),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.SQUASH, 640, 100, 64, 48, 64, 48));
    assertEquals(new MaskBox(0, 0, 32, 32),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.SQUASH, 640, 100, 128, 128, 32, 32));
  }

  @Test
  public void aFrameOfTheNetworkAspectFillsIt() {
    assertEquals(new MaskBox(0, 0, 64, 64), MaskBox.letterbox(500, 500, 64, 64));
    assertEquals(new MaskBox(0, 0, 64, 48), MaskBox.letterbox(640, 480, 64, 48));
    assertEquals(new MaskBox(0, 0, 1, 1), MaskBox.letterbox(1, 1, 1, 1));
  }

  @Test
  public void wideAndTallFramesArePaddedOnTheShortAxis() {
    // 640x480 into 64x64: s = 0.1 -> 64x48, 16 rows of padding split 8 / 8
    assertEquals(new MaskBox(0, 8, 64, 48), MaskBox.letterbox(640, 480, 64, 64));
    // 480x640: the same on the other axis
    assertEquals(new MaskBox(8, 0, 48, 64), MaskBox.letterbox(480, 640, 64, 64));
  }

  @Test
  public void oddPaddingPutsTheExtraPixelAfterTheFrame() {
    // 100x61 into 64x64: s = 0.64 -> rh = round(39.04) = 39; 25 rows of padding: 12 above, 13 below
    MaskBox b = MaskBox.letterbox(100, 61, 64, 64);
    assertEquals(new MaskBox(0, 12, 64, 39), b);
    assertEquals(13, 64 - b.top - b.height);
    // a 65-wide network and a square frame: 1 column of padding, 0 left, 1 right
    assertEquals(new MaskBox(0, 0, 64, 64), MaskBox.letterbox(64, 64, 65, 64));
    // 3x1 into 7x7: s = 7/3 -> 7x2 (2.333), 5 rows of padding: 2 above, 3 below
    assertEquals(new MaskBox(0, 2, 7, 2), MaskBox.letterbox(3, 1, 7, 7));
  }

  @Test
  public void halvesRoundToEvenLikePython() {
    // 128x5 into 64x64: s = 0.5 -> H*s = 2.5 -> Python round() gives 2 (Math.round would give 3)
    assertEquals(new MaskBox(0, 31, 64, 2), MaskBox.letterbox(128, 5, 64, 64));
    // 128x7 -> 3.5 -> 4
    assertEquals(new MaskBox(0, 30, 64, 4), MaskBox.letterbox(128, 7, 64, 64));
  }

  @Test
  public void aSideThatWouldVanishKeepsOnePixel() {
    // 8192x16 into 64x64: s = 1/128 -> 64 x round(0.125) = 0 -> kept at 1
    assertEquals(new MaskBox(0, 31, 64, 1), MaskBox.letterbox(8192, 16, 64, 64));
  }

  // ------------------------------------------------ maps at the network's output resolution
  // edgepack's light decoder: [K, 32, 32] maps from a 128x128 input (stride 4). The box is found in
  // input pixels, then each edge scales by 32/128 and rounds half to even (Predictor.frame_mask).

  @Test
  public void aWideFrameInQuarterResolutionMaps() {
    // 640x480: ratio = max(480/128, 640/128) = 5 -> (rh, rw) = (96, 128); top = (128 - 96) // 2 = 16
    assertEquals(new MaskBox(0, 16, 128, 96), MaskBox.letterbox(640, 480, 128, 128));
    // rows 16*0.25 = 4 to 112*0.25 = 28, all 32 columns
    assertEquals(new MaskBox(0, 4, 32, 24),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 640, 480, 128, 128, 32, 32));
    // 640x460: rh = round(460/5) = 92, top = 18 -> rows round(4.5) = 4 (half to even; Math.round: 5)
    // to round(27.5) = 28: the same 24 rows
    assertEquals(new MaskBox(0, 18, 128, 92), MaskBox.letterbox(640, 460, 128, 128));
    assertEquals(new MaskBox(0, 4, 32, 24),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 640, 460, 128, 128, 32, 32));
  }

  @Test
  public void aTallFrameInQuarterResolutionMaps() {
    // 460x640: ratio = max(640/128, 460/128) = 5 -> (rh, rw) = (128, 92); left = (128 - 92) // 2 = 18
    assertEquals(new MaskBox(18, 0, 92, 128), MaskBox.letterbox(460, 640, 128, 128));
    // columns round(18*0.25 = 4.5) = 4 (half to even) to round(110*0.25 = 27.5) = 28, all 32 rows
    assertEquals(new MaskBox(4, 0, 24, 32),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 460, 640, 128, 128, 32, 32));
    // 300x500: ratio = 500/128 = 3.90625 -> rw = round(76.8) = 77, left = 25 -> columns
    // round(6.25) = 6 to round(102*0.25 = 25.5) = 26
    assertEquals(new MaskBox(6, 0, 20, 32),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 300, 500, 128, 128, 32, 32));
  }

  @Test
  public void mapSizesThatDivideNothing() {
    // a 128-wide, 96-high input with [K, 33, 17] maps: sy = 33/96 = 0.34375, sx = 17/128 = 0.1328125
    // 640x320: ratio = max(320/96, 640/128) = 5 -> (rh, rw) = (64, 128), top = (96 - 64) // 2 = 16
    // -> rows 16*0.34375 = 5.5 -> 6, 80*0.34375 = 27.5 -> 28; all 17 columns
    assertEquals(new MaskBox(0, 6, 17, 22),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 640, 320, 128, 96, 17, 33));
    // 320x640: ratio = 640/96 -> (rh, rw) = (96, 48), left = (128 - 48) // 2 = 40
    // -> columns 40*0.1328125 = 5.3125 -> 5, 88*0.1328125 = 11.6875 -> 12; all 33 rows
    assertEquals(new MaskBox(5, 0, 7, 33),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 320, 640, 128, 96, 17, 33));
  }

  @Test
  public void mapsAtTheInputsSizeKeepTheInputBox() {
    assertEquals(new MaskBox(3, 5, 7, 9), new MaskBox(3, 5, 7, 9).scaledTo(20, 20, 20, 20));
    assertEquals(new MaskBox(0, 16, 128, 96),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 640, 480, 128, 128, 128, 128));
  }

  @Test
  public void aBoxThinnerThanAMapRowKeepsOneRow() {
    // 1920x16 into 128x128: ratio = 15 -> rh = round(1.0667) = 1, top = 63 -> map rows
    // round(15.75) = 16 to round(16.0) = 16: an empty slice in Python; the app keeps row 16
    assertEquals(new MaskBox(0, 63, 128, 1), MaskBox.letterbox(1920, 16, 128, 128));
    assertEquals(new MaskBox(0, 16, 32, 1),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 1920, 16, 128, 128, 32, 32));
    // and the same on the other axis
    assertEquals(new MaskBox(16, 0, 1, 32),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.LETTERBOX, 16, 1920, 128, 128, 32, 32));
    // the last input row rounds to map row 32, past the map: the last map row
    assertEquals(new MaskBox(0, 31, 32, 1), new MaskBox(0, 127, 128, 1).scaledTo(128, 128, 32, 32));
  }

  @Test
  public void theScaledSizeIsComputedAsTheModelComputesIt() {
    // 576x9 into 224x224: the model's 9 / (576/224) is 3.4999999999999996 -> 3 rows; the textbook
    // 9 * (224/576) is 3.5 in doubles -> 4 rows, one row off the model's padding
    assertEquals(new MaskBox(0, 110, 224, 3), MaskBox.letterbox(576, 9, 224, 224));
  }

  @Test
  public void aBoxOutsideTheInputIsRejected() {
    try {
      new MaskBox(0, 100, 128, 96).scaledTo(128, 128, 32, 32);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
  }

  @Test
  public void badSizesAreRejected() {
    try {
      MaskBox.letterbox(0, 10, 64, 64);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
    try {
      new MaskBox(0, 0, 0, 4);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
  }
}
