package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import dev.edgepack.demo.core.ManifestIssue.Code;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The .pte manifest path: the edgepack_manifest method, its string, and .pte-only checks. */
public class PteManifestTest {

  private static Map<String, Object> fixture() {
    return Fixtures.manifestMap(ModelFormat.PTE);
  }

  private static ManifestCheck check(Map<String, Object> m) {
    return Fixtures.reparse(m, ModelFormat.PTE).check();
  }

  // ---------------------------------------------------------------- the method and its output

  @Test
  public void methodsOfAnEdgepackProgram() {
    assertNull(PteManifest.methodsProblem(new String[] {"forward", "edgepack_manifest"}));
    assertNull(PteManifest.methodsProblem(new String[] {"edgepack_manifest", "forward", "extra"}));
  }

  @Test
  public void programWithoutManifestMethodIsNotEdgepacks() {
    String msg = PteManifest.methodsProblem(new String[] {"forward"});
    assertTrue(msg, msg.contains("no edgepack_manifest method"));
    assertTrue(msg, msg.contains("[forward]"));
    assertTrue(msg, msg.contains("--format pte -o android_demo/app/src/main/assets/model.pte"));
    assertTrue(PteManifest.methodsProblem(null).contains("no edgepack_manifest"));
    assertTrue(PteManifest.methodsProblem(new String[0]).contains("no edgepack_manifest"));
  }

  @Test
  public void programWithoutForwardRefused() {
    String msg = PteManifest.methodsProblem(new String[] {"edgepack_manifest", "encode"});
    assertTrue(msg, msg.contains("no forward method"));
  }

  @Test
  public void manifestTextFromOneString() throws Exception {
    String json = Fixtures.manifestText(ModelFormat.PTE);
    String text = PteManifest.text(Collections.singletonList(PteManifest.value(true, json, null)));
    assertEquals(json, text);
    Manifest m = Manifest.parseCompatible(text, ModelFormat.PTE);
    assertEquals(ModelFormat.PTE, m.getFormat());
  }

  @Test
  public void wrongOutputsRefused() {
    List<List<PteManifest.Value>> bad = new ArrayList<>();
    bad.add(Collections.<PteManifest.Value>emptyList());
    bad.add(null);
    bad.add(Collections.singletonList(PteManifest.value(false, null, "Tensor")));
    bad.add(Arrays.asList(PteManifest.value(true, "{}", null), PteManifest.value(true, "{}", null)));
    bad.add(Arrays.asList(PteManifest.value(true, "{}", null), PteManifest.value(false, null, "Int")));
    for (List<PteManifest.Value> outputs : bad) {
      try {
        PteManifest.text(outputs);
        fail("accepted " + outputs);
      } catch (ManifestException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("edgepack_manifest method returned"));
        assertTrue(e.getMessage(), e.getMessage().contains("Rebuild"));
      }
    }
    try {
      PteManifest.text(Collections.singletonList(PteManifest.value(false, null, "Tensor")));
      fail();
    } catch (ManifestException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("[Tensor]"));
    }
  }

  @Test
  public void emptyStringIsNoManifest() throws Exception {
    String text = PteManifest.text(Collections.singletonList(PteManifest.value(true, "", null)));
    try {
      Manifest.parse(text, ModelFormat.PTE);
      fail();
    } catch (ManifestException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("edgepack_manifest"));
      assertTrue(e.getMessage(), e.getMessage().contains("--format pte"));
    }
  }

  @Test
  public void hugeManifestRefused() {
    char[] big = new char[PteManifest.MAX_CHARS + 1];
    Arrays.fill(big, ' ');
    try {
      PteManifest.text(Collections.singletonList(PteManifest.value(true, new String(big), null)));
      fail();
    } catch (ManifestException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("implausibly large"));
    }
  }

  // ---------------------------------------------------------------- .pte-only manifest checks

  @Test
  public void maxSideRequired() {
    Map<String, Object> absent = fixture();
    Fixtures.child(absent, "input").remove("max_side");
    ManifestCheck c = check(absent);
    assertFalse(c.isCompatible());
    assertTrue(c.has(Code.INPUT_SIDES_INVALID));
    assertTrue(c.userMessage(), c.userMessage().contains("input.max_side"));

    Map<String, Object> nul = fixture();
    Fixtures.child(nul, "input").put("max_side", null);
    assertFalse(check(nul).isCompatible());

    Map<String, Object> text = fixture();
    Fixtures.child(text, "input").put("max_side", "1920");
    ManifestCheck t = check(text);
    assertFalse(t.isCompatible());
    assertEquals("one message for a wrong type", 1, t.getErrors().size());

    // a .ptl without max_side is fine (the lite interpreter plans no memory ahead)
    Map<String, Object> ptl = Fixtures.manifestMap(ModelFormat.PTL);
    Fixtures.child(ptl, "input").remove("max_side");
    assertTrue(Fixtures.reparse(ptl, ModelFormat.PTL).check().isCompatible());
  }

  @Test
  public void executorchSectionTypesChecked() {
    Map<String, Object> notObject = fixture();
    notObject.put("executorch", "1.3.1");
    ManifestCheck c = check(notObject);
    assertFalse(c.isCompatible());
    assertTrue(c.has(Code.EXECUTORCH_INVALID));

    Map<String, Object> versionNumber = fixture();
    Fixtures.child(versionNumber, "executorch").put("version", 1.3);
    assertTrue(check(versionNumber).has(Code.EXECUTORCH_INVALID));
    assertFalse(check(versionNumber).isCompatible());
  }

  @Test
  public void missingExecutorchVersionIsAWarning() {
    Map<String, Object> noSection = fixture();
    noSection.remove("executorch");
    ManifestCheck c = check(noSection);
    assertTrue(c.toString(), c.isCompatible());
    assertTrue(c.has(Code.EXECUTORCH_VERSION_UNKNOWN));

    Map<String, Object> noVersion = fixture();
    Fixtures.child(noVersion, "executorch").remove("version");
    assertTrue(check(noVersion).isCompatible());
    assertTrue(check(noVersion).has(Code.EXECUTORCH_VERSION_UNKNOWN));

    Map<String, Object> garbage = fixture();
    Fixtures.child(garbage, "executorch").put("version", "main");
    assertTrue(check(garbage).isCompatible());
    assertTrue(check(garbage).has(Code.EXECUTORCH_VERSION_UNKNOWN));
  }

  @Test
  public void versionsOutsideThePromiseAreWarnings() {
    Map<String, Object> newer = fixture();
    Fixtures.child(newer, "executorch").put("version", "1.5.0");
    ManifestCheck c = check(newer);
    assertTrue(c.isCompatible());
    assertTrue(c.has(Code.EXECUTORCH_VERSION_UNCERTAIN));
    assertTrue(c.userMessage(), c.userMessage().contains("newer than the app's runtime (executorch-android 1.3.1)"));

    Map<String, Object> older = fixture();
    Fixtures.child(older, "executorch").put("version", "1.0.0");
    assertTrue(check(older).has(Code.EXECUTORCH_VERSION_UNCERTAIN));
    assertTrue(check(older).userMessage().contains("rebuild"));

    Map<String, Object> previous = fixture();
    Fixtures.child(previous, "executorch").put("version", "1.2.0");
    assertTrue(check(previous).getIssues().isEmpty());

    Map<String, Object> local = fixture();
    Fixtures.child(local, "executorch").put("version", "1.3.1+cpu");
    assertTrue(check(local).getIssues().isEmpty());
  }

  @Test
  public void executorchSectionIgnoredForPtl() {
    Map<String, Object> m = Fixtures.manifestMap(ModelFormat.PTL);
    m.put("executorch", "whatever");
    assertTrue(Fixtures.reparse(m, ModelFormat.PTL).check().isCompatible());
    assertNull(Fixtures.reparse(m, ModelFormat.PTL).getExecutorchVersion());
  }

  @Test
  public void bytecodeVersionIgnoredForPte() {
    Map<String, Object> m = fixture();
    m.put("bytecode_version", 99L);
    assertTrue(check(m).isCompatible());
    assertNull(Fixtures.reparse(m, ModelFormat.PTE).getBytecodeVersion());
  }

  @Test
  public void unknownExecutorchKeysTolerated() {
    Map<String, Object> m = fixture();
    Map<String, Object> et = Fixtures.child(m, "executorch");
    et.put("backends", Arrays.asList("XnnpackBackend"));
    et.put("planned_memory_bytes", 12345L);
    et.put("future", new LinkedHashMap<String, Object>());
    assertTrue(check(m).getIssues().isEmpty());
  }
}
