package dev.edgepack.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Map;
import org.junit.Test;

public class PostprocessTest {

  @Test
  public void softmaxSumsToOneAndIsStable() {
    float[] p = Postprocess.softmax(new float[] {1000f, 1001f, 999f});
    float sum = 0;
    for (float v : p) sum += v;
    assertEquals(1f, sum, 1e-6f);
    assertEquals(0.66524096f, p[1], 1e-6f);
    assertEquals(0.24472847f, p[0], 1e-6f);
    assertArrayEquals(new float[] {0.5f, 0.5f}, Postprocess.softmax(new float[] {-3f, -3f}), 0f);
    assertEquals(0, Postprocess.softmax(new float[0]).length);
  }

  @Test
  public void softmaxHandlesInfinities() {
    float inf = Float.POSITIVE_INFINITY;
    assertArrayEquals(new float[] {0f, 1f}, Postprocess.softmax(new float[] {1f, inf}), 0f);
    float ninf = Float.NEGATIVE_INFINITY;
    assertArrayEquals(new float[] {0.5f, 0.5f}, Postprocess.softmax(new float[] {ninf, ninf}), 0f);
  }

  @Test
  public void sigmoidValues() {
    float[] p = Postprocess.sigmoid(new float[] {0f, 2f, -2f, 100f, -100f});
    assertEquals(0.5f, p[0], 0f);
    assertEquals(0.8807971f, p[1], 1e-6f);
    assertEquals(0.11920292f, p[2], 1e-6f);
    assertEquals(1f, p[3], 0f);
    assertEquals(0f, p[4], 1e-30f);
  }

  @Test
  public void probabilitiesPassThrough() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    float[] out = {0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.1f};
    float[] p = Postprocess.toProbabilities(out, m);
    assertArrayEquals(out, p, 0f);
    p[0] = 9f;
    assertEquals("returns a copy", 0.1f, out[0], 0f);
  }

  @Test
  public void logitsGetTaskActivation() {
    Map<String, Object> raw = Fixtures.manifestMap();
    Fixtures.child(raw, "output").put("kind", "logits");
    float[] logits = {2f, 0f, -2f, 0f, 0f, 0f};
    float[] soft = Postprocess.toProbabilities(logits, Fixtures.reparse(raw));
    assertArrayEquals(Postprocess.softmax(logits), soft, 0f);

    raw.put("task", "multilabel");
    float[] sig = Postprocess.toProbabilities(logits, Fixtures.reparse(raw));
    assertArrayEquals(Postprocess.sigmoid(logits), sig, 0f);
  }

  @Test
  public void outputLengthChecked() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    int n = m.getNumClasses();
    assertNull(Postprocess.outputProblem(n, m));
    String problem = Postprocess.outputProblem(n + 1, m);
    assertNotNull(problem);
    assertTrue(problem, problem.contains((n + 1) + " scores"));
    assertNotNull(Postprocess.outputProblem(0, m));
  }

  @Test
  public void firstRunOutputCheckedAgainstLabelsAndValues() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    int n = m.getNumClasses();
    float[] ok = new float[n];
    java.util.Arrays.fill(ok, 1f / n);
    assertNull(Postprocess.outputProblem(ok, m));
    // another model's output under this manifest: one score more or less
    assertNotNull(Postprocess.outputProblem(new float[n + 1], m));
    assertNotNull(Postprocess.outputProblem(new float[n - 1], m));
    assertNotNull(Postprocess.outputProblem((float[]) null, m));
    // NaN or infinite scores (a damaged file, a frame beyond a .pte's max side) are not shown
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      float[] out = ok.clone();
      out[n - 1] = bad;
      String problem = Postprocess.outputProblem(out, m);
      assertNotNull(problem);
      assertTrue(problem, problem.contains("not a finite number"));
    }
  }

  @Test
  public void labelsComparedWithTheRealOutputEvenWhenOnlyParsed() throws Exception {
    // Manifest.parse (unlike parseCompatible) keeps a manifest whose labels do not match its
    // class count; the output check must still refuse to label the scores with them.
    Map<String, Object> map = Fixtures.manifestMap();
    @SuppressWarnings("unchecked")
    java.util.List<Object> labels = (java.util.List<Object>) map.get("labels");
    labels.remove(labels.size() - 1);
    Manifest m = Manifest.parse(Json.write(map));
    int n = m.getNumClasses();
    assertNull(Postprocess.outputProblem(n, m));
    String problem = Postprocess.outputProblem(new float[n], m);
    assertNotNull(problem);
    assertTrue(problem, problem.contains((n - 1) + " labels"));
  }
}
