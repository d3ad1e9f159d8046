package dev.edgepack.demo;

import java.util.Arrays;
import java.util.List;

/**
 * The runtimes of the "both" build variant: ExecuTorch (.pte) and PyTorch Lite (.ptl). Not 16
 * KB-page ready: pytorch_android_lite's native libraries are aligned for 4 KB pages only.
 */
final class BuildRuntimes {
  private BuildRuntimes() {}

  static List<ModelRuntime> create() {
    return Arrays.<ModelRuntime>asList(new ExecuTorchBackend(), new LiteBackend());
  }
}
