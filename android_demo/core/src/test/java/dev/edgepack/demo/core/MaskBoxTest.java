package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import org.junit.Test;

/** The part of per-class maps that shows the frame: letterbox arithmetic as the model does it. */
public class MaskBoxTest {

  @Test
  public void squashIsTheWholeMap() {
    assertEquals(new MaskBox(0, 0, 64, 48),
        MaskBox.forPolicy(SegmentationSpec.ResizePolicy.SQUASH, 640, 100, 64, 48));
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
