package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.Test;

/**
 * The shared contract fixtures (tests/fixtures/edgepack_manifest.json from a .ptl,
 * edgepack_manifest_pte.json from a .pte) are what the app accepts, with the values of the
 * bundled example (examples/shapes_regnet.ckpt, six shape classes).
 */
public class ManifestFixtureTest {
  private static final List<String> SHAPES =
      Arrays.asList("circle", "cross", "ring", "square", "star", "triangle");

  private static Manifest ptl() throws ManifestException {
    return Manifest.parse(Fixtures.manifestText(ModelFormat.PTL), ModelFormat.PTL);
  }

  private static Manifest pte() throws ManifestException {
    return Manifest.parse(Fixtures.manifestText(ModelFormat.PTE), ModelFormat.PTE);
  }

  @Test
  public void fixturesAreCompatible() throws Exception {
    for (ModelFormat f : ModelFormat.values()) {
      Manifest m = Manifest.parseCompatible(Fixtures.manifestText(f), f);
      ManifestCheck check = m.check();
      assertTrue(f + ": " + check, check.isCompatible());
      assertTrue(f + " unexpected issues: " + check, check.getIssues().isEmpty());
      assertEquals(1L, (long) m.getSchema());
      assertTrue(m.getSchema() <= Manifest.SUPPORTED_SCHEMA);
      assertEquals(f, m.getFormat());
    }
  }

  @Test
  public void ptlFixtureIsNotAPteManifest() throws Exception {
    // the same document read from the other kind of file is refused: format says which file it is
    ManifestCheck asPte = Manifest.parse(Fixtures.manifestText(ModelFormat.PTL), ModelFormat.PTE).check();
    assertFalse(asPte.isCompatible());
    assertTrue(asPte.toString(), asPte.has(ManifestIssue.Code.FORMAT_MISMATCH));
    ManifestCheck asPtl = Manifest.parse(Fixtures.manifestText(ModelFormat.PTE), ModelFormat.PTL).check();
    assertFalse(asPtl.isCompatible());
    assertTrue(asPtl.toString(), asPtl.has(ManifestIssue.Code.FORMAT_MISMATCH));
  }

  @Test
  public void fixturesHaveContractKeys() {
    List<String> common =
        Arrays.asList(
            "schema", "edgepack_version", "torch_version", "source", "task", "labels", "input",
            "output", "preprocess", "quantization", "validation");
    for (ModelFormat f : ModelFormat.values()) {
      for (String key : common) {
        assertTrue(f + " fixture lacks top-level key " + key, Fixtures.manifestMap(f).containsKey(key));
      }
    }
    for (String key : Arrays.asList("optimizer", "bytecode_version")) {
      assertTrue("ptl fixture lacks " + key, Fixtures.manifestMap(ModelFormat.PTL).containsKey(key));
    }
    for (String key : Arrays.asList("format", "executorch")) {
      assertTrue("pte fixture lacks " + key, Fixtures.manifestMap(ModelFormat.PTE).containsKey(key));
    }
  }

  @Test
  public void readsLabelsAndClasses() throws Exception {
    for (ModelFormat f : ModelFormat.values()) {
      Manifest m = Manifest.parse(Fixtures.manifestText(f), f);
      assertNotNull(m.getTask());
      int n = m.getNumClasses();
      assertTrue(n > 0);
      if (!m.getLabels().isEmpty()) {
        assertEquals(n, m.getLabels().size());
        assertEquals(m.getLabels().get(0), m.labelFor(0));
      }
      assertEquals("class " + n, m.labelFor(n));
      assertNotNull(m.getOutput());
      assertTrue(m.getOutput().isProbabilities() || m.getOutput().isLogits());
      assertEquals("float32", m.getOutput().getDtype());
    }
  }

  @Test
  public void readsImageInputSpec() throws Exception {
    for (ModelFormat f : ModelFormat.values()) {
      InputSpec in = Manifest.parse(Fixtures.manifestText(f), f).getInput();
      assertNotNull(in);
      assertTrue(in.isImage());
      assertEquals("uint8", in.getDtype());
      assertEquals("HWC", in.getLayout());
      assertTrue(in.acceptsChannels(Manifest.APP_INPUT_CHANNELS));
      assertTrue(in.getMinSide() >= 1);
      assertTrue(in.getMaxSide() >= in.getMinSide());
    }
  }

  @Test
  public void bytecodeLoadableByAndroidRuntime() throws Exception {
    Manifest m = ptl();
    assertNotNull(m.getBytecodeVersion());
    assertTrue(m.getBytecodeVersion() >= Manifest.MIN_BYTECODE_VERSION);
    assertTrue(m.getBytecodeVersion() <= Manifest.MAX_BYTECODE_VERSION);
  }

  /** Exact values of the example build (examples/shapes_regnet.ckpt) in both fixtures. */
  @Test
  public void initialFixtureValues() throws Exception {
    for (Manifest m : Arrays.asList(ptl(), pte())) {
      String f = m.getFormat().jsonName;
      assertEquals(f, "shapes_regnet.ckpt", m.getSourceName());
      assertEquals(f, "regnetx_002", m.getSourceArch());
      assertEquals(f, Task.MULTICLASS, m.getTask());
      assertEquals(f, SHAPES, m.getLabels());
      assertEquals(f, 6, m.getNumClasses());
      assertEquals(f, Arrays.asList(3, 4), m.getInput().getChannels());
      assertEquals(f, "RGB", m.getInput().getColor());
      assertTrue(f, m.getOutput().isProbabilities());
      assertEquals(f, "softmax", m.getOutput().getActivation());
      assertFalse(f, Postprocess.appliesActivation(m));
      assertEquals(f, "none", m.getQuantizationMode());
      assertEquals(f, Boolean.TRUE, m.getValidationPassed());
      assertEquals(f, "0.1.0", m.getEdgepackVersion());
    }
  }

  @Test
  public void initialFixtureSizes() throws Exception {
    Manifest m = ptl();
    assertEquals(16, m.getInput().getMinSide());
    assertEquals(8192, m.getInput().getMaxSide());
    assertTrue(m.getInput().isDownscaleOk());
    assertEquals("xnnpack", m.getOptimizerPath());
    assertEquals(8L, (long) m.getBytecodeVersion());
    assertNull(m.getExecutorchVersion());

    Manifest p = pte();
    assertEquals(16, p.getInput().getMinSide());
    assertEquals(1920, p.getInput().getMaxSide()); // the default --max-side: Full-HD either way
    assertTrue(p.getInput().isDownscaleOk());
    assertEquals("1.3.1", p.getExecutorchVersion());
    assertNull(p.getBytecodeVersion());
  }

  @Test
  public void pteFixtureWrittenByTheAppsExecuTorch() throws Exception {
    assertEquals(RuntimeVersions.EXECUTORCH_ANDROID, pte().getExecutorchVersion());
    assertEquals(
        RuntimeVersions.PteCompatibility.SUPPORTED,
        RuntimeVersions.pteCompatibility(pte().getExecutorchVersion(), RuntimeVersions.EXECUTORCH_ANDROID));
  }

  @Test
  public void describeNamesFormat() throws Exception {
    assertTrue(pte().describe(), pte().describe().endsWith(" · .pte (ExecuTorch 1.3.1)"));
    assertTrue(ptl().describe(), ptl().describe().endsWith(" · .ptl"));
    assertTrue(ptl().describe(), ptl().describe().startsWith("regnetx_002 · 6 classes · multiclass"));
  }
}
