package dev.edgepack.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.os.SystemClock;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ManifestException;
import dev.edgepack.demo.core.Postprocess;
import dev.edgepack.demo.core.Prediction;
import dev.edgepack.demo.core.PtlArchive;
import dev.edgepack.demo.core.Task;
import dev.edgepack.demo.core.TopK;
import java.io.File;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.pytorch.Device;
import org.pytorch.IValue;
import org.pytorch.LiteModuleLoader;
import org.pytorch.Module;
import org.pytorch.PyTorchAndroid;
import org.pytorch.Tensor;

/**
 * An edgepack model loaded with the lite interpreter, plus its checked manifest. Use only on
 * {@link TorchThread}.
 */
final class LoadedModel {
  /** How many classes the main screen lists. */
  static final int TOP_K = 5;

  /**
   * When the manifest allows downscaling, photos are shrunk to at most this many pixels on the
   * longer side before inference (the model then resizes to its input size itself). Keeps a 12 MP
   * photo from costing ~50 MB and a slow full-resolution antialiased resize.
   */
  static final int APP_MAX_SIDE = 1024;

  /** The manifest as read from the file's zip directory before loading, or why it could not be. */
  static final class Precheck {
    final Manifest manifest;
    final IOException zipError;

    Precheck(Manifest manifest, IOException zipError) {
      this.manifest = manifest;
      this.zipError = zipError;
    }
  }

  /** One classification. */
  static final class Classification {
    final List<Prediction> top;
    final double inferenceMs;
    final double prepareMs;
    final int width;
    final int height;
    final boolean scaled;

    Classification(
        List<Prediction> top, double inferenceMs, double prepareMs, int width, int height, boolean scaled) {
      this.top = top;
      this.inferenceMs = inferenceMs;
      this.prepareMs = prepareMs;
      this.width = width;
      this.height = height;
      this.scaled = scaled;
    }
  }

  private final File file;
  private final Manifest manifest;
  private final double loadMs;
  private Module module;

  private LoadedModel(File file, Manifest manifest, Module module, double loadMs) {
    this.file = file;
    this.manifest = manifest;
    this.module = module;
    this.loadMs = loadMs;
  }

  /** Copies the asset if needed, checks the manifest, loads the module. */
  static LoadedModel load(Context context, int threads) throws ModelUnavailableException {
    File file = ModelFiles.ensureModelFile(context);
    return loadChecked(file, precheck(file), threads);
  }

  /**
   * Reads and checks the manifest straight from the file (a zip archive), before any native code
   * runs: an incompatible file is refused with the manifest's own explanation even when the
   * runtime could not load it at all.
   */
  static Precheck precheck(File file) throws ModelUnavailableException {
    String text;
    try {
      text = PtlArchive.readExtraFile(file, Manifest.EXTRA_FILE_NAME);
    } catch (IOException e) {
      return new Precheck(null, e); // let the runtime have a go; it decides
    }
    return new Precheck(checkedManifest(text), null);
  }

  private static Manifest checkedManifest(String text) throws ModelUnavailableException {
    try {
      return Manifest.parseCompatible(text);
    } catch (ManifestException e) {
      throw new ModelUnavailableException(ModelUnavailableException.Kind.INCOMPATIBLE, e.getMessage(), e);
    }
  }

  /**
   * Loads with {@code LiteModuleLoader.load(path, extraFiles, Device.CPU)}; the loader fills
   * {@code extraFiles["edgepack.json"]} with the manifest, which is authoritative.
   */
  static LoadedModel loadChecked(File file, Precheck precheck, int threads)
      throws ModelUnavailableException {
    Map<String, String> extraFiles = new HashMap<>();
    extraFiles.put(Manifest.EXTRA_FILE_NAME, "");
    Module module;
    long t0;
    long t1;
    initRuntime(threads);
    try {
      t0 = SystemClock.elapsedRealtimeNanos();
      module = LiteModuleLoader.load(file.getAbsolutePath(), extraFiles, Device.CPU);
      t1 = SystemClock.elapsedRealtimeNanos();
    } catch (LinkageError e) {
      // UnsatisfiedLinkError / ExceptionInInitializerError / NoClassDefFoundError
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.NATIVE_LIBRARY, DeviceInfo.nativeLibraryMessage(e), e);
    } catch (RuntimeException e) {
      if (precheck.zipError != null) {
        throw new ModelUnavailableException(
            ModelUnavailableException.Kind.NOT_A_MODEL,
            "assets/" + ModelFiles.ASSET_NAME + " is not a PyTorch Lite model file ("
                + precheck.zipError.getMessage() + "). " + ModelFiles.BUILD_HINT,
            e);
      }
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.LOAD_FAILED,
          "pytorch_android_lite 2.1.0 could not load the model: "
              + firstLine(e.getMessage())
              + "\nThe file may be damaged, or use an operator or bytecode version this runtime"
              + " does not have (edgepack checks this at build time: rebuild with the current"
              + " edgepack).",
          e);
    }
    Manifest manifest = precheck.manifest;
    String fromLoader = extraFiles.get(Manifest.EXTRA_FILE_NAME);
    try {
      if (fromLoader != null && !fromLoader.isEmpty()) {
        manifest = checkedManifest(fromLoader);
      } else if (manifest == null) {
        manifest = checkedManifest(null); // throws: no manifest
      }
    } catch (ModelUnavailableException e) {
      module.destroy();
      throw e;
    }
    return new LoadedModel(file, manifest, module, (t1 - t0) / 1e6);
  }

  /** Sets the native thread pool size (global to the process). */
  static void setThreads(int threads) {
    PyTorchAndroid.setNumThreads(Math.max(1, threads));
  }

  /**
   * Loads PyTorch's native libraries (first call only) and sets the thread count. The benchmark
   * calls this before timing, so that {@code load_ms} is the model load alone.
   */
  static void initRuntime(int threads) throws ModelUnavailableException {
    try {
      setThreads(threads);
    } catch (LinkageError e) {
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.NATIVE_LIBRARY, DeviceInfo.nativeLibraryMessage(e), e);
    }
  }

  private static String firstLine(String s) {
    if (s == null) return "unknown error";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  File getFile() {
    return file;
  }

  Manifest getManifest() {
    return manifest;
  }

  double getLoadMs() {
    return loadMs;
  }

  /** Raw forward pass: the model's float output for one uint8 [H, W, 4] tensor. */
  float[] forward(Tensor input) {
    if (module == null) throw new IllegalStateException("model was released");
    return module.forward(IValue.from(input)).toTensor().getDataAsFloatArray();
  }

  /** Sizes the image per the manifest, runs the model, returns the top {@link #TOP_K}. */
  Classification classify(Bitmap image) throws ImageSizing.ImageSizeException {
    long p0 = SystemClock.elapsedRealtimeNanos();
    ImageSizing.Plan plan =
        ImageSizing.plan(image.getWidth(), image.getHeight(), manifest.getInput(), APP_MAX_SIDE);
    Bitmap sized =
        plan.scaled ? Bitmap.createScaledBitmap(image, plan.width, plan.height, true) : image;
    Tensor input = Tensors.fromBitmap(sized);
    if (sized != image) {
      sized.recycle();
    }
    long p1 = SystemClock.elapsedRealtimeNanos();
    float[] output = forward(input);
    long p2 = SystemClock.elapsedRealtimeNanos();
    String problem = Postprocess.outputProblem(output.length, manifest);
    if (problem != null) {
      throw new IllegalStateException(problem);
    }
    float[] probabilities = Postprocess.toProbabilities(output, manifest);
    List<Prediction> top = TopK.of(probabilities, TOP_K, manifest.getLabels());
    return new Classification(
        top, (p2 - p1) / 1e6, (p1 - p0) / 1e6, plan.width, plan.height, plan.scaled);
  }

  /** A note for the results, or null: how to read the numbers. */
  String resultNote() {
    StringBuilder sb = new StringBuilder();
    if (manifest.getTask() == Task.MULTILABEL) {
      sb.append("Multi-label model: each class has its own independent probability; they need not"
          + " add up to 100%.");
    }
    if (Postprocess.appliesActivation(manifest)) {
      if (sb.length() > 0) sb.append('\n');
      sb.append("The model outputs logits; the app applied ")
          .append(manifest.getTask() == Task.MULTILABEL ? "sigmoid" : "softmax")
          .append(" to show probabilities.");
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  void destroy() {
    if (module != null) {
      module.destroy();
      module = null;
    }
  }
}
