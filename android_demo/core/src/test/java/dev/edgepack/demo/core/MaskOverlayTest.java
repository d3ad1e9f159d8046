package dev.edgepack.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.HashSet;
import java.util.Set;
import org.junit.Test;

/** Palette and overlay: fixed colours, transparent background, nearest-neighbour alignment. */
public class MaskOverlayTest {
  private static final int GREY = 0xFF808080;

  private static int[] fill(int n, int argb) {
    int[] a = new int[n];
    java.util.Arrays.fill(a, argb);
    return a;
  }

  // ---------------------------------------------------------------- palette

  @Test
  public void backgroundIsTransparentAndOthersAreOpaqueEnoughToSee() {
    SegmentationPalette p = SegmentationPalette.standard();
    assertEquals(0, p.argb(0));
    assertFalse(p.isDrawn(0));
    assertEquals(SegmentationPalette.UNDRAWN_RGB, p.rgb(0));
    assertTrue(p.isDrawn(1));
    assertEquals(SegmentationPalette.DEFAULT_ALPHA, p.argb(1) >>> 24);
    assertEquals(0xFFE6194B, p.rgb(1)); // the first distinct colour goes to class 1
    assertEquals(p.rgb(1) & 0xFFFFFF, p.argb(1) & 0xFFFFFF);
  }

  @Test
  public void thePaletteIsFixed() {
    SegmentationPalette a = SegmentationPalette.standard();
    SegmentationPalette b = new SegmentationPalette(SegmentationPalette.DEFAULT_ALPHA, true);
    assertArrayEquals(a.table(300), b.table(300));
    // pinned values: a change of colours is a visible change and must be deliberate
    assertEquals(0xFF3CB44B, a.rgb(2));
    assertEquals(0xFFA9A9A9, a.rgb(20));
    assertEquals(0xFF000000 | SegmentationPalette.hsvToRgb((20 * 137.50776405003785) % 360, 0.75, 0.9), a.rgb(21));
  }

  @Test
  public void classesGetDistinctColoursUpTo255() {
    SegmentationPalette p = SegmentationPalette.standard();
    Set<Integer> seen = new HashSet<>();
    for (int c = 1; c < 256; c++) assertTrue("class " + c + " repeats a colour", seen.add(p.rgb(c)));
  }

  @Test
  public void withoutTransparentBackgroundClassZeroIsColoured() {
    SegmentationPalette p = new SegmentationPalette(0x80, false);
    assertTrue(p.isDrawn(0));
    assertEquals(0x80E6194B, p.argb(0));
    assertNotEquals(p.rgb(0), p.rgb(1));
    try {
      new SegmentationPalette(256, true);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
  }

  @Test
  public void hsvCorners() {
    assertEquals(0xFF0000, SegmentationPalette.hsvToRgb(0, 1, 1));
    assertEquals(0x00FF00, SegmentationPalette.hsvToRgb(120, 1, 1));
    assertEquals(0x0000FF, SegmentationPalette.hsvToRgb(240, 1, 1));
    assertEquals(0xFFFFFF, SegmentationPalette.hsvToRgb(77, 0, 1));
  }

  // ---------------------------------------------------------------- blending

  @Test
  public void blendPixelMixesByTheOverlaysAlpha() {
    assertEquals(GREY, MaskOverlay.blendPixel(GREY, 0)); // transparent: photo unchanged
    assertEquals(0xFF00FF00, MaskOverlay.blendPixel(GREY, 0xFF00FF00)); // opaque: the colour
    // half: (128 * 127 + 255 * 128 + 127) / 255 = 192, (128 * 127 + 127) / 255 = 64
    assertEquals(0xFF40C040, MaskOverlay.blendPixel(GREY, 0x8000FF00));
    // the photo's alpha is kept
    assertEquals(0x7F000000, MaskOverlay.blendPixel(0x7F000000, 0x80000000) & 0xFF000000);
  }

  @Test
  public void nearestMapsPixelCentres() {
    assertArrayEquals(new int[] {0, 1, 2}, MaskOverlay.nearest(3, 3));
    assertArrayEquals(new int[] {0, 0, 1, 1}, MaskOverlay.nearest(4, 2));
    assertArrayEquals(new int[] {0, 0, 0}, MaskOverlay.nearest(3, 1));
    assertArrayEquals(new int[] {1, 4}, MaskOverlay.nearest(2, 6)); // centres 1.5 and 4.5
    assertArrayEquals(new int[] {0, 1, 1}, MaskOverlay.nearest(3, 2)); // 0.33, 1.0, 1.67
    int[] big = MaskOverlay.nearest(1280, 7);
    assertEquals(0, big[0]);
    assertEquals(6, big[1279]);
  }

  @Test
  public void aMaskAtAnotherResolutionLinesUpWithThePhoto() {
    // 2x2 mask: left column class 1, right column background; photo 4x4 (a preview twice the size)
    ClassMask mask = ClassMask.ofUint8(new byte[] {1, 0, 1, 0}, 2, 2);
    SegmentationPalette p = new SegmentationPalette(255, true);
    int[] out = MaskOverlay.blend(fill(16, GREY), 4, 4, mask, p);
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 4; x++) {
        assertEquals("(" + x + "," + y + ")", x < 2 ? p.rgb(1) : GREY, out[y * 4 + x]);
      }
    }
    // the generic ARGB blend gives the same
    assertArrayEquals(out, MaskOverlay.blend(fill(16, GREY), 4, 4, MaskOverlay.colorize(mask, p), 2, 2));
  }

  @Test
  public void anOddSizedPreviewOfALargerMask() {
    // 6x1 mask onto a 3x1 preview: preview pixel i shows mask pixel floor((i + 0.5) * 2)
    ClassMask mask = ClassMask.ofUint8(new byte[] {1, 2, 3, 4, 5, 6}, 6, 1);
    SegmentationPalette p = new SegmentationPalette(255, false);
    int[] out = MaskOverlay.blend(fill(3, GREY), 3, 1, mask, p);
    assertArrayEquals(new int[] {p.rgb(2), p.rgb(4), p.rgb(6)}, out);
  }

  @Test
  public void aOneByOneMaskCoversTheWholePhoto() {
    SegmentationPalette p = SegmentationPalette.standard();
    int[] out = MaskOverlay.blend(fill(15, GREY), 5, 3, ClassMask.ofUint8(new byte[] {2}, 1, 1), p);
    int expected = MaskOverlay.blendPixel(GREY, p.argb(2));
    for (int v : out) assertEquals(expected, v);
    assertArrayEquals(fill(15, GREY), MaskOverlay.blend(fill(15, GREY), 5, 3, ClassMask.ofUint8(new byte[] {0}, 1, 1), p));
  }

  @Test
  public void colorizeUsesThePalette() {
    SegmentationPalette p = SegmentationPalette.standard();
    ClassMask mask = ClassMask.ofUint8(new byte[] {0, 1, (byte) 255}, 3, 1);
    assertArrayEquals(new int[] {0, p.argb(1), p.argb(255)}, MaskOverlay.colorize(mask, p));
  }

  @Test
  public void mismatchedArraysAreRejected() {
    try {
      MaskOverlay.blend(new int[10], 4, 4, ClassMask.ofUint8(new byte[1], 1, 1), SegmentationPalette.standard());
      fail();
    } catch (IllegalArgumentException expected) {
      assertTrue(expected.getMessage().contains("photo"));
    }
    try {
      MaskOverlay.blend(new int[16], 4, 4, new int[3], 2, 2);
      fail();
    } catch (IllegalArgumentException expected) {
      assertTrue(expected.getMessage().contains("overlay"));
    }
  }
}
