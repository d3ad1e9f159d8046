package dev.edgepack.demo;

import java.util.Arrays;
import java.util.List;

/**
 * The runtimes of the "ptl" build variant: PyTorch Lite (.ptl) only, as the demo was before
 * ExecuTorch: for 4 KB-page devices and old armeabi-v7a phones.
 */
final class BuildRuntimes {
  private BuildRuntimes() {}

  static List<ModelRuntime> create() {
    return Arrays.<ModelRuntime>asList(new LiteBackend());
  }
}
