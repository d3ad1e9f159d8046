package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** Expected values were computed with numpy 2.4 ({@code np.percentile(x, p)}, default method). */
public class LatencyStatsTest {
  private static final double[] PS = {0, 10, 25, 50, 90, 99, 100};

  private static void assertPercentiles(double[] x, double[] expected) {
    for (int i = 0; i < PS.length; i++) {
      assertEquals("p" + PS[i], expected[i], LatencyStats.percentile(x, PS[i]), 0.0);
    }
  }

  @Test
  public void fourValues() {
    assertPercentiles(
        new double[] {4.0, 2.0, 3.0, 1.0},
        new double[] {1.0, 1.3, 1.75, 2.5, 3.7, 3.9699999999999998, 4.0});
  }

  @Test
  public void unsortedWithOutlier() {
    assertPercentiles(
        new double[] {12.5, 3.25, 7.0, 9.75, 4.5, 100.0, 11.0},
        new double[] {3.25, 4.0, 5.75, 9.75, 47.50000000000003, 94.74999999999996, 100.0});
  }

  @Test
  public void hundredValues() {
    double[] x = new double[100];
    for (int i = 1; i <= 100; i++) x[i - 1] = 0.1 * i + 0.37 * (i % 3);
    assertPercentiles(
        x,
        new double[] {
          0.30000000000000004, 1.487, 2.9675000000000002, 5.42, 9.353000000000002, 10.3717,
          10.540000000000001
        });
    LatencyStats s = LatencyStats.of(x);
    assertEquals(5.42, s.getMean(), 1e-12);
    assertEquals(2.8980051759788146, s.getStdev(), 1e-12);
    assertEquals(100, s.getCount());
  }

  @Test
  public void singleAndTwoValues() {
    assertPercentiles(new double[] {5.0}, new double[] {5, 5, 5, 5, 5, 5, 5});
    assertPercentiles(
        new double[] {2.3, 1.7},
        new double[] {1.7, 1.76, 1.8499999999999999, 2.0, 2.2399999999999998, 2.294, 2.3});
  }

  @Test
  public void summaryFields() {
    double[] x = {12.5, 3.25, 7.0, 9.75, 4.5, 100.0, 11.0};
    LatencyStats s = LatencyStats.of(x);
    assertEquals(3.25, s.getMin(), 0);
    assertEquals(100.0, s.getMax(), 0);
    assertEquals(21.142857142857142, s.getMean(), 1e-12);
    assertEquals(9.75, s.getP50(), 0);
    assertEquals(47.50000000000003, s.getP90(), 0);
    assertEquals(94.74999999999996, s.getP99(), 0);
    assertEquals(32.34409229090297, s.getStdev(), 1e-12);
    assertEquals("input not modified", 12.5, x[0], 0);
  }

  @Test(expected = IllegalArgumentException.class)
  public void emptyRejected() {
    LatencyStats.of(new double[0]);
  }

  @Test(expected = IllegalArgumentException.class)
  public void nanRejected() {
    LatencyStats.of(new double[] {1, Double.NaN});
  }

  @Test(expected = IllegalArgumentException.class)
  public void percentileOutOfRangeRejected() {
    LatencyStats.percentile(new double[] {1, 2}, 101);
  }
}
