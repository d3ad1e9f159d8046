package dev.edgepack.demo.core;

import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;

/**
 * Locates the shared manifest fixture {@code tests/fixtures/edgepack_manifest.json} (written by the
 * Python side from a real {@code edgepack build}): the system property {@code edgepack.fixture}
 * when set (run_jvm_tests.sh and the Gradle build set it), else found by walking up from the
 * working directory.
 */
final class Fixtures {
  static final String PROPERTY = "edgepack.fixture";
  static final String RELATIVE = "tests/fixtures/edgepack_manifest.json";

  private Fixtures() {}

  static File manifestFile() {
    String prop = System.getProperty(PROPERTY);
    if (prop != null && !prop.isEmpty()) {
      File f = new File(prop);
      if (!f.isFile()) fail("-D" + PROPERTY + "=" + prop + " is not a file");
      return f;
    }
    File dir = new File(System.getProperty("user.dir")).getAbsoluteFile();
    for (File d = dir; d != null; d = d.getParentFile()) {
      File f = new File(d, RELATIVE);
      if (f.isFile()) return f;
    }
    fail("shared fixture " + RELATIVE + " not found above " + dir + "; set -D" + PROPERTY + "=PATH");
    return null;
  }

  static String manifestText() {
    try {
      return new String(Files.readAllBytes(manifestFile().toPath()), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new AssertionError("cannot read the fixture", e);
    }
  }

  /** A fresh, mutable copy of the fixture as JSON values. */
  static Map<String, Object> manifestMap() {
    return Json.parseObject(manifestText());
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> child(Map<String, Object> m, String key) {
    return (Map<String, Object>) m.get(key);
  }

  /** Serialises and re-parses, exactly as the app reads a manifest from the .ptl. */
  static Manifest reparse(Map<String, Object> m) {
    try {
      return Manifest.parse(Json.write(m));
    } catch (ManifestException e) {
      throw new AssertionError(e);
    }
  }
}
