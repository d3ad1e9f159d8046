package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The runtime versions the app is built with (the same strings as in app/build.gradle.kts; a JVM
 * test checks that they agree), and ExecuTorch's rule for which {@code .pte} files a runtime
 * loads.
 *
 * <p>ExecuTorch's runtime compatibility policy (runtime/COMPATIBILITY.md in pytorch/executorch,
 * as of v1.3.1): a {@code .pte} written by version X loads in a runtime of version X and of at
 * least the next non-patch release (e.g. a 1.3.x file in a 1.4.x runtime); nothing is promised
 * for a file newer than the runtime. The app's runtime is executorch-android 1.3.1, the release
 * built from the same tag as the pip package {@code executorch 1.3.1} that edgepack writes
 * {@code .pte} files with.
 */
public final class RuntimeVersions {
  /** org.pytorch:executorch-android, the same release as pip executorch 1.3.1 (torch 2.12). */
  public static final String EXECUTORCH_ANDROID = "1.3.1";
  /** org.pytorch:pytorch_android_lite, the last Android release of the lite interpreter. */
  public static final String PYTORCH_ANDROID_LITE = "2.1.0";

  private RuntimeVersions() {}

  /** How a {@code .pte}'s ExecuTorch version relates to the runtime's. */
  public enum PteCompatibility {
    /** Same major.minor, or the file is from the previous minor release: loading is promised. */
    SUPPORTED,
    /** The file was written by a newer ExecuTorch than the runtime: it may or may not load. */
    FILE_NEWER,
    /** The file is more than one minor release older: it may or may not load. */
    FILE_OLDER,
    /** The version string could not be read. */
    UNKNOWN
  }

  /** {@code fileVersion} as written by edgepack (e.g. "1.3.1", "1.4.0.dev20260301+cpu"). */
  public static PteCompatibility pteCompatibility(String fileVersion, String runtimeVersion) {
    int[] f = parse(fileVersion);
    int[] r = parse(runtimeVersion);
    if (f == null || r == null) return PteCompatibility.UNKNOWN;
    int cmp = compare(f, r);
    if (cmp > 0) {
      // a newer patch of the same minor release is no format change in practice, but the policy
      // promises nothing: only say "newer" when the minor (or major) release differs
      return f[0] == r[0] && f[1] == r[1] ? PteCompatibility.SUPPORTED : PteCompatibility.FILE_NEWER;
    }
    if (f[0] == r[0] && r[1] - f[1] <= 1) return PteCompatibility.SUPPORTED;
    return PteCompatibility.FILE_OLDER;
  }

  /**
   * The numeric release parts {major, minor, patch} of a version string, ignoring local and
   * pre-release suffixes ("+cu130", ".dev2026", "rc1", "a0"); null when it does not start with
   * "N.N".
   */
  static int[] parse(String version) {
    if (version == null) return null;
    String v = version.trim();
    int plus = v.indexOf('+');
    if (plus >= 0) v = v.substring(0, plus);
    List<Integer> parts = new ArrayList<>();
    for (String piece : v.split("\\.", -1)) {
      int n = 0;
      while (n < piece.length() && Character.isDigit(piece.charAt(n))) n++;
      if (n == 0 || n > 6) break;
      parts.add(Integer.parseInt(piece.substring(0, n)));
      if (n < piece.length() || parts.size() == 3) break; // "1rc2": the release part ends here
    }
    if (parts.size() < 2) return null;
    return new int[] {parts.get(0), parts.get(1), parts.size() > 2 ? parts.get(2) : 0};
  }

  static int compare(int[] a, int[] b) {
    for (int i = 0; i < 3; i++) {
      if (a[i] != b[i]) return Integer.compare(a[i], b[i]);
    }
    return 0;
  }
}
