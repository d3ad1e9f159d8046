package dev.edgepack.demo;

import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.ModelOutput;
import java.io.File;
import java.nio.ByteBuffer;

/**
 * One inference runtime: ExecuTorch for {@code .pte} files ({@code ExecuTorchBackend}, in the
 * {@code both} and {@code pte} build variants) or PyTorch Lite for {@code .ptl} files ({@code
 * LiteBackend}, in the {@code both} and {@code ptl} variants). Which ones a build has is listed by
 * its variant's {@code BuildRuntimes}. Use only on {@link TorchThread}.
 */
interface ModelRuntime {

  ModelFormat format();

  /**
   * Loads the runtime's native libraries (first call only) and applies {@code threads} where the
   * runtime has a process-wide setting. Untimed: the benchmark calls it before timing the load.
   */
  void init(int threads) throws ModelUnavailableException;

  /**
   * Checks the file before native code touches it: its header, and (where it can be read without
   * the runtime) its manifest. Returns that manifest, or null when the runtime must load the file
   * to read it (.pte).
   */
  Manifest precheck(File file) throws ModelUnavailableException;

  /**
   * Loads the model and reads and checks its manifest from the loaded file: everything before the
   * first inference (what {@code load_ms} measures).
   *
   * @param precheck what {@link #precheck} returned
   */
  Session load(File file, Manifest precheck, int threads) throws ModelUnavailableException;

  /** A model's output tensor inside the runtime ({@link Session#forward}). */
  interface Output {
    /**
     * Copies the tensor into a runtime-neutral {@link ModelOutput}: float32 and uint8 values kept,
     * any other dtype by name only (the output check then says what came back).
     */
    ModelOutput copy();
  }

  /** One loaded model. */
  interface Session {
    /** The manifest the runtime read from the file, checked. */
    Manifest manifest();

    /**
     * Runs {@code forward} on one uint8 {@code [height, width, 4]} RGBA frame and returns the
     * model's output tensor, not yet copied out of the runtime: timing {@code forward} then times
     * the model alone, not the copy of a segmentation model's megabytes of output.
     *
     * @param rgba a direct, native-order buffer of exactly {@code height * width * 4} bytes
     * @return valid until the next {@code forward} or {@link #destroy()}: ExecuTorch's output
     *     tensors point into the program's own memory
     */
    Output forward(ByteBuffer rgba, int width, int height);

    /** The thread count the session runs with. */
    int threads();

    /**
     * Runs with {@code threads} from now on: a process-wide setting for PyTorch Lite; ExecuTorch
     * fixes it when loading, so its session reloads the model when the count changes.
     */
    void setThreads(int threads) throws ModelUnavailableException;

    /** Releases the native model; idempotent. */
    void destroy();
  }
}
