package dev.edgepack.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.Test;

public class TopKTest {

  @Test
  public void ordersByScoreDescending() {
    float[] s = {0.1f, 0.5f, 0.05f, 0.3f, 0.05f};
    assertArrayEquals(new int[] {1, 3, 0}, TopK.indices(s, 3));
  }

  @Test
  public void tiesKeepLowerIndexFirst() {
    float[] s = {0.2f, 0.4f, 0.2f, 0.4f, 0.2f};
    assertArrayEquals(new int[] {1, 3, 0, 2, 4}, TopK.indices(s, 5));
  }

  @Test
  public void kLargerThanClassesIsClamped() {
    assertArrayEquals(new int[] {1, 0}, TopK.indices(new float[] {0.4f, 0.6f}, 5));
    assertArrayEquals(new int[] {}, TopK.indices(new float[] {0.4f, 0.6f}, 0));
    assertArrayEquals(new int[] {}, TopK.indices(new float[] {}, 5));
  }

  @Test(expected = IllegalArgumentException.class)
  public void negativeKRejected() {
    TopK.indices(new float[] {1f}, -1);
  }

  @Test
  public void nanRanksLast() {
    float[] s = {Float.NaN, 0.1f, Float.NaN, -5f};
    assertArrayEquals(new int[] {1, 3, 0, 2}, TopK.indices(s, 4));
  }

  @Test
  public void matchesFullSortOnRandomInput() {
    Random r = new Random(1234);
    for (int trial = 0; trial < 200; trial++) {
      int n = 1 + r.nextInt(50);
      float[] s = new float[n];
      for (int i = 0; i < n; i++) s[i] = r.nextInt(10) / 10f; // many ties
      int k = r.nextInt(n + 2);
      Integer[] order = new Integer[n];
      for (int i = 0; i < n; i++) order[i] = i;
      Arrays.sort(order, (a, b) -> s[a] != s[b] ? Float.compare(s[b], s[a]) : Integer.compare(a, b));
      int m = Math.min(k, n);
      int[] expected = new int[m];
      for (int i = 0; i < m; i++) expected[i] = order[i];
      assertArrayEquals(expected, TopK.indices(s, k));
    }
  }

  @Test
  public void predictionsCarryLabelsAndFormat() {
    List<String> labels = Arrays.asList("circle", "golden retriever");
    float[] p = {0.127f, 0.873f, 0.0f};
    List<Prediction> top = TopK.of(p, 5, labels);
    assertEquals(3, top.size());
    assertEquals("golden retriever \u2014 87.3%", top.get(0).format());
    assertEquals(1, top.get(0).getIndex());
    assertEquals("circle \u2014 12.7%", top.get(1).toString());
    assertEquals("class 2 \u2014 0.0%", top.get(2).format());
  }
}
