package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import org.junit.Test;

/** The shared contract fixture (tests/fixtures/edgepack_manifest.json) is what the app accepts. */
public class ManifestFixtureTest {

  @Test
  public void fixtureIsCompatible() throws Exception {
    Manifest m = Manifest.parseCompatible(Fixtures.manifestText());
    ManifestCheck check = m.check();
    assertTrue(check.toString(), check.isCompatible());
    assertTrue("unexpected issues: " + check, check.getErrors().isEmpty());
    assertEquals(1L, (long) m.getSchema());
    assertTrue(m.getSchema() <= Manifest.SUPPORTED_SCHEMA);
  }

  @Test
  public void fixtureHasContractKeys() {
    for (String key :
        Arrays.asList(
            "schema", "edgepack_version", "torch_version", "source", "task", "labels", "input",
            "output", "preprocess", "quantization", "optimizer", "bytecode_version", "validation")) {
      assertTrue("fixture lacks top-level key " + key, Fixtures.manifestMap().containsKey(key));
    }
  }

  @Test
  public void readsLabelsAndClasses() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    assertNotNull(m.getTask());
    int n = m.getNumClasses();
    assertTrue(n > 0);
    // whatever the fixture's classes are, labels (when present) match num_classes
    if (!m.getLabels().isEmpty()) {
      assertEquals(n, m.getLabels().size());
      assertEquals(m.getLabels().get(0), m.labelFor(0));
    }
    assertEquals("class " + n, m.labelFor(n));
    assertNotNull(m.getOutput());
    assertTrue(m.getOutput().isProbabilities() || m.getOutput().isLogits());
    assertEquals("float32", m.getOutput().getDtype());
  }

  @Test
  public void readsImageInputSpec() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    InputSpec in = m.getInput();
    assertNotNull(in);
    assertTrue(in.isImage());
    assertEquals("uint8", in.getDtype());
    assertEquals("HWC", in.getLayout());
    assertTrue(in.acceptsChannels(Manifest.APP_INPUT_CHANNELS));
    assertTrue(in.getMinSide() >= 1);
    assertTrue(in.getMaxSide() >= in.getMinSide());
  }

  @Test
  public void bytecodeLoadableByAndroidRuntime() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    assertNotNull(m.getBytecodeVersion());
    assertTrue(m.getBytecodeVersion() >= Manifest.MIN_BYTECODE_VERSION);
    assertTrue(m.getBytecodeVersion() <= Manifest.MAX_BYTECODE_VERSION);
  }

  /** Exact values of the initial hand-written fixture; skipped once Python regenerates it. */
  @Test
  public void initialFixtureValues() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    if (!"shapes_resnet.ckpt".equals(m.getSourceName())) {
      return; // regenerated from another example: the generic tests above still apply
    }
    assertEquals(Task.MULTICLASS, m.getTask());
    assertEquals(
        Arrays.asList("circle", "square", "triangle", "star", "cross", "ring"), m.getLabels());
    assertEquals(6, m.getNumClasses());
    assertEquals(Arrays.asList(3, 4), m.getInput().getChannels());
    assertEquals("RGB", m.getInput().getColor());
    assertTrue(m.getOutput().isProbabilities());
    assertEquals("softmax", m.getOutput().getActivation());
    assertEquals("resnet18", m.getSourceArch());
    assertFalse(Postprocess.appliesActivation(m));
  }

  @Test
  public void initialFixtureSizes() throws Exception {
    Manifest m = Manifest.parse(Fixtures.manifestText());
    if (!"shapes_resnet.ckpt".equals(m.getSourceName())) return;
    assertEquals(16, m.getInput().getMinSide());
    assertEquals(4096, m.getInput().getMaxSide());
    assertTrue(m.getInput().isDownscaleOk());
    assertEquals(Boolean.TRUE, m.getValidationPassed());
    assertEquals("xnnpack", m.getOptimizerPath());
    assertEquals("none", m.getQuantizationMode());
    assertEquals(8L, (long) m.getBytecodeVersion());
  }
}
