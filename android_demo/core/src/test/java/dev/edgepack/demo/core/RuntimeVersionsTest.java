package dev.edgepack.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import dev.edgepack.demo.core.RuntimeVersions.PteCompatibility;
import org.junit.Test;

public class RuntimeVersionsTest {

  @Test
  public void parsesReleaseParts() {
    assertArrayEquals(new int[] {1, 3, 1}, RuntimeVersions.parse("1.3.1"));
    assertArrayEquals(new int[] {1, 3, 0}, RuntimeVersions.parse("1.3"));
    assertArrayEquals(new int[] {2, 12, 1}, RuntimeVersions.parse("2.12.1+cu130"));
    assertArrayEquals(new int[] {1, 4, 0}, RuntimeVersions.parse("1.4.0.dev20260301+cpu"));
    assertArrayEquals(new int[] {1, 4, 0}, RuntimeVersions.parse("1.4.0rc2"));
    assertArrayEquals(new int[] {1, 4, 0}, RuntimeVersions.parse(" 1.4rc2 "));
    assertNull(RuntimeVersions.parse("1"));
    assertNull(RuntimeVersions.parse("main"));
    assertNull(RuntimeVersions.parse(""));
    assertNull(RuntimeVersions.parse(null));
    assertNull(RuntimeVersions.parse("v1.3.1"));
  }

  @Test
  public void compatibilityFollowsExecuTorchPolicy() {
    // COMPATIBILITY.md: a file loads in its own release's runtime and the next non-patch release
    assertEquals(PteCompatibility.SUPPORTED, RuntimeVersions.pteCompatibility("1.3.1", "1.3.1"));
    assertEquals(PteCompatibility.SUPPORTED, RuntimeVersions.pteCompatibility("1.3.0", "1.3.1"));
    assertEquals(PteCompatibility.SUPPORTED, RuntimeVersions.pteCompatibility("1.3.2", "1.3.1"));
    assertEquals(PteCompatibility.SUPPORTED, RuntimeVersions.pteCompatibility("1.2.0", "1.3.1"));
    assertEquals(PteCompatibility.FILE_OLDER, RuntimeVersions.pteCompatibility("1.1.0", "1.3.1"));
    assertEquals(PteCompatibility.FILE_OLDER, RuntimeVersions.pteCompatibility("0.7.0", "1.3.1"));
    // no forward compatibility promise
    assertEquals(PteCompatibility.FILE_NEWER, RuntimeVersions.pteCompatibility("1.4.0", "1.3.1"));
    assertEquals(PteCompatibility.FILE_NEWER, RuntimeVersions.pteCompatibility("2.0.0", "1.3.1"));
    assertEquals(PteCompatibility.UNKNOWN, RuntimeVersions.pteCompatibility("x", "1.3.1"));
    assertEquals(PteCompatibility.UNKNOWN, RuntimeVersions.pteCompatibility(null, "1.3.1"));
  }

  @Test
  public void runtimeNames() {
    assertEquals("executorch-android 1.3.1", ModelFormat.PTE.runtimeName());
    assertEquals("pytorch_android_lite 2.1.0", ModelFormat.PTL.runtimeName());
    assertEquals("model.pte", ModelFormat.PTE.assetName());
    assertEquals(ModelFormat.PTE, ModelFormat.fromFileName("x/Model.PTE"));
    assertEquals(ModelFormat.PTL, ModelFormat.fromJson("ptl"));
    assertNull(ModelFormat.fromJson("onnx"));
    assertNull(ModelFormat.fromFileName("model"));
  }
}
