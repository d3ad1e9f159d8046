package dev.edgepack.demo;

import dev.edgepack.demo.core.FormatSniffer;
import dev.edgepack.demo.core.Integrity;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ManifestException;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.ModelOutput;
import dev.edgepack.demo.core.PteManifest;
import java.io.File;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.pytorch.executorch.DType;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.ExecuTorchRuntime;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/**
 * {@code .pte} files on ExecuTorch's Android runtime ({@code org.pytorch:executorch-android}
 * 1.3.1, the release built from the same tag as the pip {@code executorch} 1.3.1 that edgepack
 * writes {@code .pte} files with). In the {@code both} and {@code pte} build variants.
 *
 * <p>The manifest is the string returned by the program's constant method {@code
 * edgepack_manifest}: {@code module.execute("edgepack_manifest")[0].toStr()}. The thread count is
 * given to {@code Module.load} (executorch-android sets its thread pool per module), so changing
 * it reloads the module.
 */
final class ExecuTorchBackend implements ModelRuntime {
  /**
   * Memory-map the file: the weights are paged in from the app's files directory instead of being
   * copied into a heap buffer (LOAD_MODE_FILE, the library's default).
   */
  static final int LOAD_MODE = Module.LOAD_MODE_MMAP;

  @Override
  public ModelFormat format() {
    return ModelFormat.PTE;
  }

  @Override
  public void init(int threads) throws ModelUnavailableException {
    try {
      ExecuTorchRuntime.getRuntime(); // its static initialiser loads libexecutorch.so
    } catch (LinkageError e) {
      throw nativeError(e);
    }
  }

  private static ModelUnavailableException nativeError(LinkageError e) {
    return new ModelUnavailableException(
        ModelUnavailableException.Kind.NATIVE_LIBRARY,
        DeviceInfo.nativeLibraryMessage(ModelFormat.PTE, e),
        e);
  }

  /** Only the header can be checked without the runtime: the manifest is inside the program. */
  @Override
  public Manifest precheck(File file) throws ModelUnavailableException {
    String notPte = FormatSniffer.problem(file, ModelFormat.PTE);
    if (notPte != null) {
      throw new ModelUnavailableException(ModelUnavailableException.Kind.NOT_A_MODEL, notPte);
    }
    return null;
  }

  @Override
  public Session load(File file, Manifest precheck, int threads) throws ModelUnavailableException {
    int n = Math.max(1, threads);
    Module module = open(file, n);
    Manifest manifest;
    try {
      String problem = PteManifest.methodsProblem(module.getMethods());
      if (problem != null) {
        throw new ModelUnavailableException(ModelUnavailableException.Kind.INCOMPATIBLE, problem);
      }
      manifest = readManifest(module, file);
      loadForward(module);
    } catch (ModelUnavailableException e) {
      module.destroy();
      throw e;
    } catch (RuntimeException e) {
      module.destroy();
      throw loadFailed(e);
    }
    return new PteSession(file, module, manifest, n);
  }

  /** {@code Module.load}; the program is parsed here, its methods load on first use. */
  private static Module open(File file, int threads) throws ModelUnavailableException {
    try {
      return Module.load(file.getAbsolutePath(), LOAD_MODE, threads);
    } catch (LinkageError e) {
      throw nativeError(e);
    } catch (RuntimeException e) {
      throw loadFailed(e);
    }
  }

  /**
   * Loads {@code forward} now (memory planning, XNNPACK delegate set-up), so that the load time
   * covers it and the first inference does not.
   */
  private static void loadForward(Module module) {
    module.loadMethod(PteManifest.FORWARD);
  }

  /** The manifest, after the file's bytes were checked against its digests (before forward loads). */
  private static Manifest readManifest(Module module, File file) throws ModelUnavailableException {
    EValue[] out = module.execute(Manifest.PTE_METHOD_NAME);
    List<PteManifest.Value> values = new ArrayList<>();
    if (out != null) {
      for (EValue v : out) {
        values.add(PteManifest.value(v.isString(), v.isString() ? v.toStr() : null, typeName(v)));
      }
    }
    try {
      String text = PteManifest.text(values);
      Manifest manifest = Manifest.parseCompatible(text, ModelFormat.PTE);
      Integrity.verifyPte(file, text);
      return manifest;
    } catch (ManifestException e) {
      throw new ModelUnavailableException(ModelUnavailableException.Kind.INCOMPATIBLE, e.getMessage(), e);
    }
  }

  private static String typeName(EValue v) {
    if (v.isTensor()) return "Tensor";
    if (v.isInt()) return "Int";
    if (v.isDouble()) return "Double";
    if (v.isBool()) return "Bool";
    if (v.isNone()) return "None";
    return v.isString() ? "String" : "unknown";
  }

  private static ModelUnavailableException loadFailed(RuntimeException e) {
    StringBuilder sb =
        new StringBuilder(ModelFormat.PTE.runtimeName())
            .append(" could not load assets/model.pte: ")
            .append(ModelUnavailableException.firstLine(e.getMessage()));
    String log = lastLogLines(3);
    if (!log.isEmpty()) sb.append("\nRuntime log:\n").append(log);
    sb.append("\nThe file may be damaged, use an operator or backend this runtime does not have,"
        + " or have been written by a newer ExecuTorch than ")
        .append(ModelFormat.PTE.runtimeVersion)
        .append(". Rebuild it with the current edgepack:\n  ")
        .append(ModelFormat.PTE.buildCommand());
    return new ModelUnavailableException(ModelUnavailableException.Kind.LOAD_FAILED, sb.toString(), e);
  }

  /** The runtime's last log lines (e.g. "Missing operator: ..."), or "" when unavailable. */
  private static String lastLogLines(int count) {
    try {
      String[] lines = Module.readLogBufferStatic();
      if (lines == null || lines.length == 0) return "";
      StringBuilder sb = new StringBuilder();
      for (int i = Math.max(0, lines.length - count); i < lines.length; i++) {
        if (sb.length() > 0) sb.append('\n');
        sb.append(lines[i]);
      }
      return sb.toString();
    } catch (RuntimeException | LinkageError e) {
      return "";
    }
  }

  private static final class PteSession implements Session {
    private final File file;
    private final Manifest manifest;
    private Module module;
    private int threads;

    PteSession(File file, Module module, Manifest manifest, int threads) {
      this.file = file;
      this.module = module;
      this.manifest = manifest;
      this.threads = threads;
    }

    @Override
    public Manifest manifest() {
      return manifest;
    }

    @Override
    public Output forward(ByteBuffer rgba, int width, int height) {
      if (module == null) throw new IllegalStateException("model was released");
      Tensor input = Tensor.fromBlobUnsigned(rgba, new long[] {height, width, 4});
      EValue[] out = module.forward(EValue.from(input));
      if (out == null || out.length == 0 || !out[0].isTensor()) {
        throw new IllegalStateException(
            "The program's forward method returned no tensor; rebuild the model with edgepack.");
      }
      Tensor tensor = out[0].toTensor();
      // the tensor wraps the program's output memory: copy() must run before the next forward
      return () -> copy(tensor);
    }

    /** float32 scores / maps and uint8 masks with their values; other dtypes by name. */
    private static ModelOutput copy(Tensor t) {
      long[] shape = t.shape();
      DType dtype = t.dtype();
      if (dtype == DType.FLOAT) return ModelOutput.float32(shape, t.getDataAsFloatArray());
      if (dtype == DType.UINT8) return ModelOutput.uint8(shape, t.getDataAsUnsignedByteArray());
      return ModelOutput.other(dtype.name().toLowerCase(Locale.ROOT), shape);
    }

    @Override
    public int threads() {
      return threads;
    }

    @Override
    public void setThreads(int threads) throws ModelUnavailableException {
      int n = Math.max(1, threads);
      if (n == this.threads && module != null) return;
      destroy();
      Module reopened = open(file, n);
      try {
        loadForward(reopened);
      } catch (RuntimeException e) {
        reopened.destroy();
        throw loadFailed(e);
      }
      module = reopened;
      this.threads = n;
    }

    @Override
    public void destroy() {
      if (module != null) {
        module.destroy();
        module = null;
      }
    }
  }
}
