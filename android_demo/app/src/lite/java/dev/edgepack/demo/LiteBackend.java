package dev.edgepack.demo;

import dev.edgepack.demo.core.FormatSniffer;
import dev.edgepack.demo.core.Integrity;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ManifestException;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.ModelOutput;
import dev.edgepack.demo.core.PtlArchive;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.pytorch.DType;
import org.pytorch.Device;
import org.pytorch.IValue;
import org.pytorch.LiteModuleLoader;
import org.pytorch.Module;
import org.pytorch.PyTorchAndroid;
import org.pytorch.Tensor;

/**
 * {@code .ptl} files on PyTorch's lite interpreter ({@code org.pytorch:pytorch_android_lite}
 * 2.1.0, the last Android release; its native libraries are aligned for 4 KB pages only). In the
 * {@code both} and {@code ptl} build variants.
 */
final class LiteBackend implements ModelRuntime {
  /** The lite interpreter's thread count is process-wide; this is the last value set. */
  private static int processThreads = -1;

  @Override
  public ModelFormat format() {
    return ModelFormat.PTL;
  }

  @Override
  public void init(int threads) throws ModelUnavailableException {
    try {
      applyThreads(threads); // the first call loads libpytorch_jni_lite.so
    } catch (LinkageError e) {
      // UnsatisfiedLinkError / ExceptionInInitializerError / NoClassDefFoundError
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.NATIVE_LIBRARY,
          DeviceInfo.nativeLibraryMessage(ModelFormat.PTL, e),
          e);
    }
  }

  private static void applyThreads(int threads) {
    int n = Math.max(1, threads);
    PyTorchAndroid.setNumThreads(n);
    processThreads = n;
  }

  /**
   * Reads and checks the manifest straight from the file (a zip archive), before any native code
   * runs: an incompatible file is refused with the manifest's own explanation even when the
   * runtime could not load it at all (e.g. on a 16 KB-page device).
   */
  @Override
  public Manifest precheck(File file) throws ModelUnavailableException {
    String notPtl = FormatSniffer.problem(file, ModelFormat.PTL);
    if (notPtl != null) {
      throw new ModelUnavailableException(ModelUnavailableException.Kind.NOT_A_MODEL, notPtl);
    }
    String text;
    try {
      text = PtlArchive.readExtraFile(file, Manifest.EXTRA_FILE_NAME);
    } catch (IOException e) {
      return null; // a damaged zip: let the runtime have a go; it decides
    }
    Manifest manifest = checked(text);
    try {
      // The lite interpreter ignores zip CRCs: check the manifest's digests before it loads.
      Integrity.verifyPtl(file, text);
    } catch (ManifestException e) {
      throw new ModelUnavailableException(ModelUnavailableException.Kind.INCOMPATIBLE, e.getMessage(), e);
    }
    return manifest;
  }

  private static Manifest checked(String text) throws ModelUnavailableException {
    try {
      return Manifest.parseCompatible(text, ModelFormat.PTL);
    } catch (ManifestException e) {
      throw new ModelUnavailableException(ModelUnavailableException.Kind.INCOMPATIBLE, e.getMessage(), e);
    }
  }

  /**
   * {@code LiteModuleLoader.load(path, extraFiles, Device.CPU)}; the loader fills {@code
   * extraFiles["edgepack.json"]} with the manifest, which is authoritative.
   */
  @Override
  public Session load(File file, Manifest precheck, int threads) throws ModelUnavailableException {
    init(threads);
    Map<String, String> extraFiles = new HashMap<>();
    extraFiles.put(Manifest.EXTRA_FILE_NAME, "");
    Module module;
    try {
      module = LiteModuleLoader.load(file.getAbsolutePath(), extraFiles, Device.CPU);
    } catch (LinkageError e) {
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.NATIVE_LIBRARY,
          DeviceInfo.nativeLibraryMessage(ModelFormat.PTL, e),
          e);
    } catch (RuntimeException e) {
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.LOAD_FAILED,
          ModelFormat.PTL.runtimeName() + " could not load assets/model.ptl: "
              + ModelUnavailableException.firstLine(e.getMessage())
              + "\nThe file may be damaged, or use an operator or bytecode version this runtime"
              + " does not have (edgepack checks this at build time: rebuild with the current"
              + " edgepack).",
          e);
    }
    Manifest manifest = precheck;
    String fromLoader = extraFiles.get(Manifest.EXTRA_FILE_NAME);
    try {
      if (fromLoader != null && !fromLoader.isEmpty()) {
        manifest = checked(fromLoader);
      } else if (manifest == null) {
        manifest = checked(null); // throws: no manifest
      }
    } catch (ModelUnavailableException e) {
      module.destroy();
      throw e;
    }
    return new LiteSession(module, manifest);
  }

  private static final class LiteSession implements Session {
    private final Manifest manifest;
    private Module module;

    LiteSession(Module module, Manifest manifest) {
      this.module = module;
      this.manifest = manifest;
    }

    @Override
    public Manifest manifest() {
      return manifest;
    }

    @Override
    public Output forward(ByteBuffer rgba, int width, int height) {
      if (module == null) throw new IllegalStateException("model was released");
      Tensor input = Tensor.fromBlobUnsigned(rgba, new long[] {height, width, 4});
      IValue out = module.forward(IValue.from(input));
      if (!out.isTensor()) {
        throw new IllegalStateException(
            "The model's forward method returned no tensor; rebuild the model with edgepack.");
      }
      Tensor tensor = out.toTensor();
      return () -> copy(tensor);
    }

    /** float32 scores / maps and uint8 masks with their values; other dtypes by name. */
    private static ModelOutput copy(Tensor t) {
      long[] shape = t.shape();
      DType dtype = t.dtype();
      if (dtype == DType.FLOAT32) return ModelOutput.float32(shape, t.getDataAsFloatArray());
      if (dtype == DType.UINT8) return ModelOutput.uint8(shape, t.getDataAsUnsignedByteArray());
      return ModelOutput.other(dtype.name().toLowerCase(Locale.ROOT), shape);
    }

    @Override
    public int threads() {
      return processThreads;
    }

    @Override
    public void setThreads(int threads) {
      applyThreads(threads);
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
