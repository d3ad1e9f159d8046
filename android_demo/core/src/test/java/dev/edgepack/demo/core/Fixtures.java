package dev.edgepack.demo.core;

import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;

/**
 * Locates the shared manifest fixtures, written by the Python side from real edgepack builds:
 * {@code tests/fixtures/edgepack_manifest.json} (a {@code .ptl}'s) and {@code
 * tests/fixtures/edgepack_manifest_pte.json} (a {@code .pte}'s). The system properties {@code
 * edgepack.fixture} and {@code edgepack.fixture.pte} when set (run_jvm_tests.sh and the Gradle
 * build set them), else found by walking up from the working directory.
 */
final class Fixtures {
  static final String PROPERTY = "edgepack.fixture";
  static final String PTE_PROPERTY = "edgepack.fixture.pte";
  static final String RELATIVE = "tests/fixtures/edgepack_manifest.json";
  static final String PTE_RELATIVE = "tests/fixtures/edgepack_manifest_pte.json";
  /** The android_demo directory (run_jvm_tests.sh and Gradle set it), for checks of the app's files. */
  static final String DEMO_PROPERTY = "edgepack.android_demo";

  private Fixtures() {}

  static File manifestFile() {
    return find(PROPERTY, RELATIVE);
  }

  static File manifestFile(ModelFormat format) {
    return format == ModelFormat.PTE ? find(PTE_PROPERTY, PTE_RELATIVE) : find(PROPERTY, RELATIVE);
  }

  private static File find(String property, String relative) {
    String prop = System.getProperty(property);
    if (prop != null && !prop.isEmpty()) {
      File f = new File(prop);
      if (!f.isFile()) fail("-D" + property + "=" + prop + " is not a file");
      return f;
    }
    File dir = new File(System.getProperty("user.dir")).getAbsoluteFile();
    for (File d = dir; d != null; d = d.getParentFile()) {
      File f = new File(d, relative);
      if (f.isFile()) return f;
    }
    fail("shared fixture " + relative + " not found above " + dir + "; set -D" + property + "=PATH");
    return null;
  }

  /** The android_demo directory of this checkout. */
  static File demoDir() {
    String prop = System.getProperty(DEMO_PROPERTY);
    if (prop != null && !prop.isEmpty()) {
      File f = new File(prop);
      if (!new File(f, "app/build.gradle.kts").isFile()) fail("-D" + DEMO_PROPERTY + "=" + prop + " has no app/build.gradle.kts");
      return f;
    }
    File dir = new File(System.getProperty("user.dir")).getAbsoluteFile();
    for (File d = dir; d != null; d = d.getParentFile()) {
      if (new File(d, "app/build.gradle.kts").isFile() && new File(d, "core").isDirectory()) return d;
      File nested = new File(d, "android_demo");
      if (new File(nested, "app/build.gradle.kts").isFile()) return nested;
    }
    fail("android_demo not found above " + dir + "; set -D" + DEMO_PROPERTY + "=PATH");
    return null;
  }

  static String read(File f) {
    try {
      return new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new AssertionError("cannot read " + f, e);
    }
  }

  /** The .ptl fixture's text. */
  static String manifestText() {
    return manifestText(ModelFormat.PTL);
  }

  static String manifestText(ModelFormat format) {
    return read(manifestFile(format));
  }

  /** A fresh, mutable copy of the .ptl fixture as JSON values. */
  static Map<String, Object> manifestMap() {
    return manifestMap(ModelFormat.PTL);
  }

  static Map<String, Object> manifestMap(ModelFormat format) {
    return Json.parseObject(manifestText(format));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> child(Map<String, Object> m, String key) {
    return (Map<String, Object>) m.get(key);
  }

  /** Serialises and re-parses as a .ptl's manifest, exactly as the app reads one. */
  static Manifest reparse(Map<String, Object> m) {
    return reparse(m, ModelFormat.PTL);
  }

  static Manifest reparse(Map<String, Object> m, ModelFormat format) {
    try {
      return Manifest.parse(Json.write(m), format);
    } catch (ManifestException e) {
      throw new AssertionError(e);
    }
  }
}
