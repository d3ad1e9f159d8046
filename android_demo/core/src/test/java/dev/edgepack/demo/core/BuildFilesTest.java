package dev.edgepack.demo.core;

import static org.junit.Assert.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** The app's build files and README agree with the versions and names core uses. */
public class BuildFilesTest {

  /** The versions in core, app/build.gradle.kts and the README must agree. */
  @Test
  public void gradleAndReadmeDeclareTheSameVersions() {
    File demo = Fixtures.demoDir();
    String gradle = Fixtures.read(new File(demo, "app/build.gradle.kts"));
    assertTrue("app/build.gradle.kts must set executorchAndroidVersion = \"" + RuntimeVersions.EXECUTORCH_ANDROID + "\"",
        gradle.contains("val executorchAndroidVersion = \"" + RuntimeVersions.EXECUTORCH_ANDROID + "\""));
    assertTrue(gradle.contains("org.pytorch:executorch-android:$executorchAndroidVersion"));
    assertTrue("app/build.gradle.kts must set pytorchAndroidLiteVersion = \"" + RuntimeVersions.PYTORCH_ANDROID_LITE + "\"",
        gradle.contains("val pytorchAndroidLiteVersion = \"" + RuntimeVersions.PYTORCH_ANDROID_LITE + "\""));
    assertTrue(gradle.contains("org.pytorch:pytorch_android_lite:$pytorchAndroidLiteVersion"));
    String readme = Fixtures.read(new File(demo, "README.md"));
    assertTrue(readme.contains("org.pytorch:executorch-android:" + RuntimeVersions.EXECUTORCH_ANDROID));
    assertTrue(readme.contains("org.pytorch:pytorch_android_lite:" + RuntimeVersions.PYTORCH_ANDROID_LITE));
  }

  /**
   * The "pte" variant leaves PyTorch Lite out entirely: no lite dependency, and none of the code
   * it compiles (src/main, src/executorch, src/pte) uses a PyTorch Lite class (package
   * org.pytorch, outside org.pytorch.executorch).
   */
  @Test
  public void pteVariantHasNoLiteRuntime() {
    File demo = Fixtures.demoDir();
    String gradle = Fixtures.read(new File(demo, "app/build.gradle.kts"));
    int pteDeps = 0;
    for (String line : gradle.split("\n")) {
      String t = line.trim();
      if (t.startsWith("\"pteImplementation\"") || t.startsWith("\"pteApi\"")
          || t.startsWith("\"pteRuntimeOnly\"")) {
        pteDeps++;
        assertTrue(line, !t.contains("pytorch_android"));
      }
      if (t.startsWith("implementation(") || t.startsWith("api(") || t.startsWith("runtimeOnly(")) {
        assertTrue("a runtime must be a per-variant dependency: " + line, !t.contains("org.pytorch:"));
      }
    }
    assertTrue("the pte variant declares executorch-android", pteDeps >= 1);
    assertTrue(gradle.contains("getByName(\"pte\") { java.srcDir(\"src/executorch/java\") }"));

    List<File> sources = new ArrayList<>();
    for (String dir : new String[] {"app/src/main/java", "app/src/executorch/java", "app/src/pte/java"}) {
      collect(new File(demo, dir), sources);
    }
    assertTrue("found the app's sources", sources.size() > 10);
    for (File f : sources) {
      for (String line : Fixtures.read(f).split("\n")) {
        String t = line.trim();
        if (t.startsWith("import org.pytorch.") && !t.startsWith("import org.pytorch.executorch.")) {
          throw new AssertionError(f + " uses the lite runtime, but the pte variant compiles it: " + t);
        }
      }
    }
    // the lite runtime's code exists, in its own source directory
    assertTrue(new File(demo, "app/src/lite/java/dev/edgepack/demo/LiteBackend.java").isFile());
    for (String variant : new String[] {"both", "pte", "ptl"}) {
      assertTrue(variant, new File(demo, "app/src/" + variant + "/java/dev/edgepack/demo/BuildRuntimes.java").isFile());
    }
  }

  private static void collect(File dir, List<File> out) {
    File[] children = dir.listFiles();
    if (children == null) return;
    for (File c : children) {
      if (c.isDirectory()) collect(c, out);
      else if (c.getName().endsWith(".java")) out.add(c);
    }
  }
}
