package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.Test;

/** The legend: each class's share of the frame's pixels. */
public class SegmentationSummaryTest {
  private static final List<String> LABELS = Arrays.asList("background", "person", "car", "dog");
  private static final SegmentationSpec SPEC = SegmentationSpec.mask(4, LABELS);
  private static final SegmentationPalette PALETTE = SegmentationPalette.standard();

  @Test
  public void fractionsOfAFrameResolutionMask() {
    // 4x2: 5 background, 2 person, 1 car
    ClassMask m = ClassMask.ofUint8(new byte[] {0, 0, 1, 1, 0, 0, 0, 2}, 4, 2);
    SegmentationSummary s = SegmentationSummary.of(m, 4, 2, SPEC, PALETTE);
    assertEquals(0.625, s.fraction(0), 1e-12);
    assertEquals(0.25, s.fraction(1), 1e-12);
    assertEquals(0.125, s.fraction(2), 1e-12);
    assertEquals(0, s.fraction(3), 0);
    assertEquals("person 25.0% · car 12.5% · background 62.5%", s.legend(10));
    assertTrue(s.anyDrawn());
    SegmentationSummary.Entry first = s.getEntries().get(0);
    assertEquals(1, first.classIndex);
    assertEquals(PALETTE.rgb(1), first.rgb);
    assertTrue(first.drawn);
    assertFalse(s.getEntries().get(2).drawn);
  }

  @Test
  public void aCoarseMaskIsCountedAtTheFramesPixels() {
    // 2x1 mask over a 3x1 frame: frame pixels map to mask 0, 1, 1 -> class 1 covers 1/3, class 2 2/3
    ClassMask m = ClassMask.ofUint8(new byte[] {1, 2}, 2, 1);
    SegmentationSummary s = SegmentationSummary.of(m, 3, 1, SPEC, PALETTE);
    assertEquals(1 / 3.0, s.fraction(1), 1e-12);
    assertEquals(2 / 3.0, s.fraction(2), 1e-12);
    // a 1x1 mask over any frame: everything
    assertEquals(1.0, SegmentationSummary.of(ClassMask.ofUint8(new byte[] {3}, 1, 1), 640, 480, SPEC, PALETTE)
        .fraction(3), 0);
  }

  @Test
  public void fractionsAddUpForALetterboxedMask() {
    // 64x39 mask (a cropped letterbox box) over a 100x61 frame
    int[] v = new int[64 * 39];
    for (int i = 0; i < v.length; i++) v[i] = (i % 64) < 16 ? 1 : 0;
    SegmentationSummary s = SegmentationSummary.of(ClassMask.ofIndices(v, 64, 39), 100, 61, SPEC, PALETTE);
    double sum = 0;
    for (SegmentationSummary.Entry e : s.getEntries()) sum += e.fraction;
    assertEquals(1.0, sum, 1e-12);
    // frame columns 0..24 map to mask columns 0..15 (floor((x + .5) * 0.64) < 16 <=> x <= 24)
    assertEquals(25 / 100.0, s.fraction(1), 1e-12);
  }

  @Test
  public void legendIsCappedAndOrdered() {
    int[] v = {1, 1, 1, 2, 2, 3, 0, 0};
    SegmentationSummary s = SegmentationSummary.of(ClassMask.ofIndices(v, 8, 1), 8, 1, SPEC, PALETTE);
    assertEquals("person 37.5% · car 25.0% · +2 more", s.legend(2));
    assertEquals("person 37.5%", s.getEntries().get(0).format());
  }

  @Test
  public void tiesKeepClassOrderAndTinySharesShowAsUnderOnePermille() {
    int[] v = new int[2001];
    v[0] = 2;
    v[1] = 1;
    SegmentationSummary s = SegmentationSummary.of(ClassMask.ofIndices(v, 2001, 1), 2001, 1, SPEC, PALETTE);
    assertEquals("person <0.1% · car <0.1% · background 99.9%", s.legend(5));
  }

  @Test
  public void allBackground() {
    SegmentationSummary s = SegmentationSummary.of(ClassMask.ofUint8(new byte[4], 2, 2), 2, 2, SPEC, PALETTE);
    assertFalse(s.anyDrawn());
    assertEquals("background 100.0%", s.legend(3));
  }

  @Test
  public void namesFollowTheSpec() {
    SegmentationSpec unnamed = SegmentationSpec.mask(3, Collections.<String>emptyList());
    SegmentationSummary s = SegmentationSummary.of(ClassMask.ofUint8(new byte[] {2}, 1, 1), 1, 1, unnamed, PALETTE);
    assertEquals("class 2 100.0%", s.legend(1));

    SegmentationSpec binary = SegmentationSpec.probabilities(
        1, "sigmoid", 2, 2, 2, 2, SegmentationSpec.ResizePolicy.SQUASH, Collections.singletonList("person"));
    SegmentationSummary b = SegmentationSummary.of(ClassMask.ofUint8(new byte[] {0, 1}, 2, 1), 2, 1, binary, PALETTE);
    assertEquals("person 50.0% · background 50.0%", b.legend(2));
  }
}
