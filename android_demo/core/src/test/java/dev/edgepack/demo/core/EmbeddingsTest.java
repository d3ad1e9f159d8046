package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import dev.edgepack.demo.core.ManifestIssue.Code;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Map;
import org.junit.Test;

/** The embedding math (cosine, norm, the last-two-images tracker) and the embedding manifest. */
public class EmbeddingsTest {

  /** tests/fixtures/edgepack_manifest_embedding.json: a real `--task embedding` build's manifest. */
  static Map<String, Object> embeddingFixture() {
    File f = new File(Fixtures.demoDir().getParentFile(), "tests/fixtures/edgepack_manifest_embedding.json");
    if (!f.isFile()) fail("embedding manifest fixture not found: " + f);
    return Json.parseObject(Fixtures.read(f));
  }

  // ---------------------------------------------------------------- math

  @Test
  public void cosineOfKnownVectors() {
    assertEquals(1.0, Embeddings.cosine(new float[] {1f, 2f, 3f}, new float[] {2f, 4f, 6f}), 1e-12);
    assertEquals(-1.0, Embeddings.cosine(new float[] {1f, 0f}, new float[] {-3f, 0f}), 1e-12);
    assertEquals(0.0, Embeddings.cosine(new float[] {1f, 0f}, new float[] {0f, 5f}), 1e-12);
    // 45 degrees
    assertEquals(Math.sqrt(0.5), Embeddings.cosine(new float[] {1f, 0f}, new float[] {1f, 1f}), 1e-12);
    // scale-invariant, and symmetric
    float[] a = {0.3f, -1.2f, 4f, 0.01f};
    float[] b = {2f, 0.5f, -0.7f, 3f};
    float[] b10 = {20f, 5f, -7f, 30f};
    assertEquals(Embeddings.cosine(a, b), Embeddings.cosine(a, b10), 1e-6);
    assertEquals(Embeddings.cosine(a, b), Embeddings.cosine(b, a), 0.0);
    double dot = 0.3 * 2 + -1.2 * 0.5 + 4 * -0.7 + 0.01 * 3;
    assertEquals(dot / (Embeddings.norm(a) * Embeddings.norm(b)), Embeddings.cosine(a, b), 1e-6);
  }

  @Test
  public void cosineOfAZeroVectorIsZeroNotNaN() {
    assertEquals(0.0, Embeddings.cosine(new float[] {0f, 0f}, new float[] {1f, 2f}), 0.0);
    assertEquals(0.0, Embeddings.cosine(new float[] {0f, 0f}, new float[] {0f, 0f}), 0.0);
  }

  @Test
  public void cosineRefusesMismatchedOrNonFiniteVectors() {
    try {
      Embeddings.cosine(new float[] {1f}, new float[] {1f, 2f});
      fail("sizes differ");
    } catch (IllegalArgumentException expected) {
      assertTrue(expected.getMessage().contains("1 and 2"));
    }
    try {
      Embeddings.cosine(new float[] {Float.NaN, 1f}, new float[] {1f, 2f});
      fail("NaN");
    } catch (IllegalArgumentException expected) {
      // a damaged file's output must not become a similarity
    }
  }

  @Test
  public void normIsAccumulatedInDouble() {
    assertEquals(5.0, Embeddings.norm(new float[] {3f, 4f}), 0.0);
    float[] many = new float[1280];
    Arrays.fill(many, (float) (1.0 / Math.sqrt(1280)));
    assertEquals(1.0, Embeddings.norm(many), 1e-6);
  }

  @Test
  public void trackerComparesTheLastTwoImages() {
    Embeddings.Tracker t = new Embeddings.Tracker();
    float[] first = {0.6f, 0.8f, 0f};
    Embeddings.Summary s1 = t.add(first);
    assertEquals(3, s1.dim);
    assertEquals(1.0, s1.norm, 1e-6);
    assertNull(s1.similarityToPrevious);
    assertTrue(s1.isUnitNorm());
    assertTrue(s1.format(), s1.format().startsWith("Embedding: 3 values, norm 1.000"));

    first[0] = 0f; // the tracker keeps its own copy
    Embeddings.Summary s2 = t.add(new float[] {0.6f, 0f, 0.8f});
    assertEquals(0.36, s2.similarityToPrevious, 1e-6);
    assertTrue(s2.format(), s2.format().contains("Cosine similarity with the previous image: 0.360"));

    Embeddings.Summary s3 = t.add(new float[] {0.6f, 0f, 0.8f});
    assertEquals(1.0, s3.similarityToPrevious, 1e-6);

    t.reset();
    assertNull(t.add(new float[] {1f, 0f, 0f}).similarityToPrevious);
    // a vector of another size (another model) is not compared
    assertNull(t.add(new float[] {1f, 0f}).similarityToPrevious);
  }

  @Test
  public void aVectorThatIsNotUnitNormIsFlagged() {
    Embeddings.Summary s = new Embeddings.Tracker().add(new float[] {3f, 4f});
    assertFalse(s.isUnitNorm());
    assertTrue(s.format(), s.format().contains("not a unit vector"));
    assertTrue(new Embeddings.Tracker().add(new float[] {0f, 0f}).isUnitNorm()); // zero vector: allowed
  }

  // ---------------------------------------------------------------- manifest

  @Test
  public void realEmbeddingManifestIsUsable() {
    Map<String, Object> raw = embeddingFixture();
    Manifest m = Fixtures.reparse(raw);
    ManifestCheck check = m.check();
    assertTrue(check.toString(), check.isCompatible());
    assertFalse("an embedding has no class names to miss", check.has(Code.LABELS_MISSING));
    assertEquals(Task.EMBEDDING, m.getTask());
    assertTrue(m.getOutput().isEmbedding());
    long dim = (Long) Fixtures.child(raw, "output").get("dim");
    assertEquals(dim, m.getNumClasses());
    assertTrue(m.describe(), m.describe().contains(dim + "-value embedding"));
    assertTrue(m.getLabels().isEmpty());
  }

  @Test
  public void embeddingOutputChecks() {
    Map<String, Object> labels = embeddingFixture();
    labels.put("labels", new ArrayList<Object>(Arrays.asList("a")));
    assertTrue(Fixtures.reparse(labels).check().has(Code.LABELS_INVALID));
    assertFalse(Fixtures.reparse(labels).check().isCompatible());

    Map<String, Object> dim = embeddingFixture();
    Fixtures.child(dim, "output").put("dim", 7L);
    assertTrue(Fixtures.reparse(dim).check().has(Code.OUTPUT_NUM_CLASSES_INVALID));

    Map<String, Object> kind = embeddingFixture();
    Fixtures.child(kind, "output").put("kind", "probabilities");
    assertTrue(Fixtures.reparse(kind).check().has(Code.OUTPUT_KIND_UNSUPPORTED));

    Map<String, Object> task = embeddingFixture();
    task.put("task", "multiclass");
    assertTrue(Fixtures.reparse(task).check().has(Code.OUTPUT_KIND_UNSUPPORTED));

    Map<String, Object> act = embeddingFixture();
    Fixtures.child(act, "output").put("activation", "softmax");
    assertFalse(Fixtures.reparse(act).check().isCompatible());
  }

  @Test
  public void outputOfTheWrongSizeNamesTheDim() {
    Manifest m = Fixtures.reparse(embeddingFixture());
    String problem = Postprocess.outputProblem(new float[3], m);
    assertTrue(problem, problem.contains("vector of 3 values") && problem.contains("dim " + m.getNumClasses()));
    float[] ok = new float[m.getNumClasses()];
    ok[0] = 1f;
    assertNull(Postprocess.outputProblem(ok, m));
  }
}
