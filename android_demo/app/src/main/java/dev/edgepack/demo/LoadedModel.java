package dev.edgepack.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.os.SystemClock;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.Postprocess;
import dev.edgepack.demo.core.Prediction;
import dev.edgepack.demo.core.Task;
import dev.edgepack.demo.core.TopK;
import java.io.File;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.List;

/**
 * An edgepack model loaded with one of the runtimes, plus its checked manifest; the same
 * classification code for both. Use only on {@link TorchThread}.
 */
final class LoadedModel {
  /** How many classes the main screen lists. */
  static final int TOP_K = 5;

  /**
   * When the manifest allows downscaling, photos are shrunk to at most this many pixels on the
   * longer side before inference (the model then resizes to its input size itself), and never
   * above the manifest's max_side (1920 by default for a .pte, whose program refuses larger
   * frames). Keeps a 12 MP photo from costing ~50 MB and a slow full-resolution resize.
   */
  static final int APP_MAX_SIDE = 1024;

  /** One classification (for an embedding model: the vector, and no top list). */
  static final class Classification {
    final List<Prediction> top;
    /** The model's L2-normalised vector for an embedding model, else null. */
    final float[] embedding;
    final double inferenceMs;
    final double prepareMs;
    final int width;
    final int height;
    final boolean scaled;

    Classification(
        List<Prediction> top, float[] embedding, double inferenceMs, double prepareMs, int width, int height,
        boolean scaled) {
      this.top = top;
      this.embedding = embedding;
      this.inferenceMs = inferenceMs;
      this.prepareMs = prepareMs;
      this.width = width;
      this.height = height;
      this.scaled = scaled;
    }
  }

  private final ModelRuntime runtime;
  private final File file;
  private final double loadMs;
  private ModelRuntime.Session session;

  private LoadedModel(ModelRuntime runtime, File file, ModelRuntime.Session session, double loadMs) {
    this.runtime = runtime;
    this.file = file;
    this.session = session;
    this.loadMs = loadMs;
  }

  /** Copies the asset if needed, checks the file and its manifest, loads it. */
  static LoadedModel load(Context context, ModelRuntime runtime, int threads)
      throws ModelUnavailableException {
    File file = ModelFiles.ensureModelFile(context, runtime.format());
    Manifest precheck = runtime.precheck(file);
    runtime.init(threads);
    long t0 = SystemClock.elapsedRealtimeNanos();
    ModelRuntime.Session session = runtime.load(file, precheck, threads);
    long t1 = SystemClock.elapsedRealtimeNanos();
    return new LoadedModel(runtime, file, session, (t1 - t0) / 1e6);
  }

  ModelFormat getFormat() {
    return runtime.format();
  }

  File getFile() {
    return file;
  }

  Manifest getManifest() {
    return live().manifest();
  }

  double getLoadMs() {
    return loadMs;
  }

  /** Applies the thread setting (reloads an ExecuTorch model whose count differs). */
  void setThreads(int threads) throws ModelUnavailableException {
    if (live().threads() != threads) live().setThreads(threads);
  }

  private ModelRuntime.Session live() {
    if (session == null) throw new IllegalStateException("model was released");
    return session;
  }

  /** Sizes the image per the manifest, runs the model, returns the top {@link #TOP_K}. */
  Classification classify(Bitmap image) throws ImageSizing.ImageSizeException {
    Manifest manifest = getManifest();
    long p0 = SystemClock.elapsedRealtimeNanos();
    ImageSizing.Plan plan =
        ImageSizing.plan(image.getWidth(), image.getHeight(), manifest.getInput(), APP_MAX_SIDE);
    Bitmap sized =
        plan.scaled ? Bitmap.createScaledBitmap(image, plan.width, plan.height, true) : image;
    ByteBuffer input = RgbaBuffers.fromBitmap(sized);
    if (sized != image) {
      sized.recycle();
    }
    long p1 = SystemClock.elapsedRealtimeNanos();
    float[] output = live().forward(input, plan.width, plan.height);
    long p2 = SystemClock.elapsedRealtimeNanos();
    String problem = Postprocess.outputProblem(output, manifest);
    if (problem != null) {
      throw new IllegalStateException(problem);
    }
    if (manifest.getTask() == Task.EMBEDDING) {
      return new Classification(
          Collections.<Prediction>emptyList(), output.clone(), (p2 - p1) / 1e6, (p1 - p0) / 1e6, plan.width,
          plan.height, plan.scaled);
    }
    float[] probabilities = Postprocess.toProbabilities(output, manifest);
    List<Prediction> top = TopK.of(probabilities, TOP_K, manifest.getLabels());
    return new Classification(
        top, null, (p2 - p1) / 1e6, (p1 - p0) / 1e6, plan.width, plan.height, plan.scaled);
  }

  /** A note for the results, or null: how to read the numbers. */
  String resultNote() {
    Manifest manifest = getManifest();
    StringBuilder sb = new StringBuilder();
    if (manifest.getTask() == Task.EMBEDDING) {
      sb.append("Embedding model: it outputs a feature vector, not classes. Compare images by the cosine"
          + " similarity of their vectors (1 = same direction).");
    }
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
    if (session != null) {
      session.destroy();
      session = null;
    }
  }
}
