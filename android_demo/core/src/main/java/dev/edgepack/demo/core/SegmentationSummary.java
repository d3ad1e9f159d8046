package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * How much of the photo each class covers, for the legend under the overlay, e.g. {@code "person
 * 23.4% · car 5.1% · background 71.5%"}. Fractions are of the frame's pixels (the image the model
 * was given), each taking the class of its nearest mask pixel, so a coarse per-class map and a
 * full-resolution mask are counted the same way.
 */
public final class SegmentationSummary {
  /** Between legend entries. */
  public static final String SEPARATOR = " \u00b7 ";

  /** One class found in the image. */
  public static final class Entry {
    public final int classIndex;
    public final String label;
    /** Share of the frame's pixels, 0..1. */
    public final double fraction;
    /** Opaque colour for its legend swatch ({@link SegmentationPalette#rgb}). */
    public final int rgb;
    /** Whether the overlay colours it (false for the transparent background). */
    public final boolean drawn;

    Entry(int classIndex, String label, double fraction, int rgb, boolean drawn) {
      this.classIndex = classIndex;
      this.label = label;
      this.fraction = fraction;
      this.rgb = rgb;
      this.drawn = drawn;
    }

    /** "person 23.4%". */
    public String format() {
      return label + " " + LabelFormat.percent(fraction);
    }

    @Override
    public String toString() {
      return format();
    }
  }

  private final List<Entry> entries;

  private SegmentationSummary(List<Entry> entries) {
    this.entries = Collections.unmodifiableList(entries);
  }

  /**
   * Counts the classes of a {@code frameWidth × frameHeight} frame whose classes are {@code mask}
   * (covering exactly the frame, as {@link SegmentationOutput#decode} gives it). Names come from
   * {@code spec}, colours from {@code palette}.
   */
  public static SegmentationSummary of(
      ClassMask mask, int frameWidth, int frameHeight, SegmentationSpec spec, SegmentationPalette palette) {
    // how many frame columns (rows) take each mask column (row): weights instead of a frame-sized pass
    long[] columnWeight = weights(frameWidth, mask.getWidth());
    long[] rowWeight = weights(frameHeight, mask.getHeight());
    int classes = Math.max(spec.getClassCount(), mask.maxClass() + 1);
    long[] counts = new long[classes];
    int width = mask.getWidth();
    for (int y = 0; y < mask.getHeight(); y++) {
      long rw = rowWeight[y];
      if (rw == 0) continue;
      for (int x = 0; x < width; x++) counts[mask.get(y * width + x)] += rw * columnWeight[x];
    }
    double total = (double) frameWidth * frameHeight;
    List<Entry> drawn = new ArrayList<>();
    List<Entry> undrawn = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      if (counts[c] == 0) continue;
      Entry e = new Entry(c, spec.className(c), counts[c] / total, palette.rgb(c), palette.isDrawn(c));
      (e.drawn ? drawn : undrawn).add(e);
    }
    // largest first; ties by class index (the sort is stable)
    drawn.sort((a, b) -> Double.compare(b.fraction, a.fraction));
    undrawn.sort((a, b) -> Double.compare(b.fraction, a.fraction));
    List<Entry> all = new ArrayList<>(drawn);
    all.addAll(undrawn);
    return new SegmentationSummary(all);
  }

  private static long[] weights(int frameSize, int maskSize) {
    long[] w = new long[maskSize];
    for (int m : MaskOverlay.nearest(frameSize, maskSize)) w[m]++;
    return w;
  }

  /** Every class present: the coloured ones first, largest first, then the uncoloured ones. */
  public List<Entry> getEntries() {
    return entries;
  }

  /** The share of class {@code index} (0 when absent). */
  public double fraction(int index) {
    for (Entry e : entries) if (e.classIndex == index) return e.fraction;
    return 0;
  }

  /** Whether any coloured class was found (else the overlay is the bare photo). */
  public boolean anyDrawn() {
    return !entries.isEmpty() && entries.get(0).drawn;
  }

  /**
   * The legend, e.g. {@code "person 23.4% · car 5.1% · background 71.5%"}: at most {@code
   * maxEntries} classes, then {@code "+N more"}.
   */
  public String legend(int maxEntries) {
    if (maxEntries < 1) throw new IllegalArgumentException("maxEntries must be at least 1");
    StringBuilder sb = new StringBuilder();
    int shown = Math.min(maxEntries, entries.size());
    for (int i = 0; i < shown; i++) {
      if (i > 0) sb.append(SEPARATOR);
      sb.append(entries.get(i).format());
    }
    if (entries.size() > shown) sb.append(SEPARATOR).append('+').append(entries.size() - shown).append(" more");
    return sb.toString();
  }
}
