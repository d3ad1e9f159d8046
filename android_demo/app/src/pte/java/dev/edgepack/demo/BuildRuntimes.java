package dev.edgepack.demo;

import java.util.Arrays;
import java.util.List;

/**
 * The runtimes of the "pte" build variant: ExecuTorch (.pte) only: the lite runtime is left out
 * entirely, so every native library in the APK comes from executorch-android and fbjni (16 KB-
 * page aligned; check with the README's steps).
 */
final class BuildRuntimes {
  private BuildRuntimes() {}

  static List<ModelRuntime> create() {
    return Arrays.<ModelRuntime>asList(new ExecuTorchBackend());
  }
}
