package dev.edgepack.demo.core;

import java.util.Locale;

/**
 * The two model file formats the demo app runs, each with its own runtime: ExecuTorch programs
 * ({@code model.pte}, run by {@code org.pytorch:executorch-android}) and PyTorch Lite-interpreter
 * files ({@code model.ptl}, run by {@code org.pytorch:pytorch_android_lite}). Declared in order of
 * preference: the app picks ExecuTorch when both files are present, unless the user switches.
 */
public enum ModelFormat {
  PTE("pte", "ExecuTorch", "executorch-android", RuntimeVersions.EXECUTORCH_ANDROID),
  PTL("ptl", "PyTorch Lite", "pytorch_android_lite", RuntimeVersions.PYTORCH_ANDROID_LITE);

  /** The value of the manifest's {@code format} key and the file suffix: "pte" or "ptl". */
  public final String jsonName;
  /** Short name for the UI: "ExecuTorch" or "PyTorch Lite". */
  public final String displayName;
  /** The Maven artifact (group org.pytorch) of the runtime. */
  public final String artifact;
  /** The runtime's version as declared in app/build.gradle.kts. */
  public final String runtimeVersion;

  ModelFormat(String jsonName, String displayName, String artifact, String runtimeVersion) {
    this.jsonName = jsonName;
    this.displayName = displayName;
    this.artifact = artifact;
    this.runtimeVersion = runtimeVersion;
  }

  /** The file the app looks for in its assets: "model.pte" or "model.ptl". */
  public String assetName() {
    return "model." + jsonName;
  }

  /** Where {@code edgepack build -o} should write it, relative to the repository root. */
  public String assetPath() {
    return "android_demo/app/src/main/assets/" + assetName();
  }

  /** The build command that writes this format into the app's assets. */
  public String buildCommand() {
    return this == PTE
        ? "edgepack build SOURCE --format pte -o " + assetPath()
        : "edgepack build SOURCE -o " + assetPath();
  }

  /**
   * The {@code runtime} value of benchmark results, e.g. "executorch-android 1.3.1" or
   * "pytorch_android_lite 2.1.0".
   */
  public String runtimeName() {
    return artifact + " " + runtimeVersion;
  }

  /** The format for a manifest {@code format} value ("pte"/"ptl", any case), else null. */
  public static ModelFormat fromJson(String name) {
    if (name == null) return null;
    String n = name.trim().toLowerCase(Locale.ROOT);
    for (ModelFormat f : values()) {
      if (f.jsonName.equals(n)) return f;
    }
    return null;
  }

  /** The format for a file name by its suffix (".pte"/".ptl", any case), else null. */
  public static ModelFormat fromFileName(String fileName) {
    if (fileName == null) return null;
    int dot = fileName.lastIndexOf('.');
    return dot < 0 ? null : fromJson(fileName.substring(dot + 1));
  }
}
