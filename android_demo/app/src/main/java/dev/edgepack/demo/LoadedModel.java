package dev.edgepack.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.os.SystemClock;
import dev.edgepack.demo.core.ClassMask;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.ModelOutput;
import dev.edgepack.demo.core.OutputCheck;
import dev.edgepack.demo.core.Postprocess;
import dev.edgepack.demo.core.Prediction;
import dev.edgepack.demo.core.SegmentationOutput;
import dev.edgepack.demo.core.SegmentationPalette;
import dev.edgepack.demo.core.SegmentationSpec;
import dev.edgepack.demo.core.SegmentationSummary;
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

  /** The colours of segmentation overlays and their legend (the same for every image). */
  static final SegmentationPalette PALETTE = SegmentationPalette.standard();

  /**
   * One run on one image: for a classifier the top list; for an embedding model the vector; for a
   * segmentation model the classes of the frame's pixels and their shares.
   */
  static final class Classification {
    final List<Prediction> top;
    /** The model's L2-normalised vector for an embedding model, else null. */
    final float[] embedding;
    /** A segmentation model's classes, covering exactly the frame it was given; else null. */
    final ClassMask mask;
    /** A segmentation model's legend (each class's share of the frame); else null. */
    final SegmentationSummary segmentation;
    /** The model's forward alone (its own preprocessing included). */
    final double inferenceMs;
    /** Scaling and copying the pixels before forward. */
    final double prepareMs;
    /** After forward: copying the output out of the runtime, checking it, decoding a mask. */
    final double postMs;
    final int width;
    final int height;
    final boolean scaled;

    private Classification(
        List<Prediction> top, float[] embedding, ClassMask mask, SegmentationSummary segmentation,
        double inferenceMs, double prepareMs, double postMs, ImageSizing.Plan plan) {
      this.top = top;
      this.embedding = embedding;
      this.mask = mask;
      this.segmentation = segmentation;
      this.inferenceMs = inferenceMs;
      this.prepareMs = prepareMs;
      this.postMs = postMs;
      this.width = plan.width;
      this.height = plan.height;
      this.scaled = plan.scaled;
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

  /**
   * Sizes the image per the manifest, runs the model, checks its output against the manifest and
   * returns the top {@link #TOP_K} (or the vector, or the mask).
   *
   * @throws IllegalStateException with a message for the user when the output does not fit the
   *     manifest
   */
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
    ModelRuntime.Output raw = live().forward(input, plan.width, plan.height);
    long p2 = SystemClock.elapsedRealtimeNanos();
    ModelOutput output = raw.copy();
    String problem = OutputCheck.problem(output, manifest, plan.width, plan.height);
    if (problem != null) {
      throw new IllegalStateException(problem);
    }
    double inferenceMs = (p2 - p1) / 1e6;
    double prepareMs = (p1 - p0) / 1e6;
    List<Prediction> none = Collections.emptyList();
    if (manifest.getTask() == Task.SEGMENTATION) {
      SegmentationSpec spec = manifest.getSegmentation();
      ClassMask mask = SegmentationOutput.decode(output, spec, plan.width, plan.height);
      SegmentationSummary summary = SegmentationSummary.of(mask, plan.width, plan.height, spec, PALETTE);
      double postMs = (SystemClock.elapsedRealtimeNanos() - p2) / 1e6;
      return new Classification(none, null, mask, summary, inferenceMs, prepareMs, postMs, plan);
    }
    double postMs = (SystemClock.elapsedRealtimeNanos() - p2) / 1e6;
    if (manifest.getTask() == Task.EMBEDDING) {
      return new Classification(none, output.floats(), null, null, inferenceMs, prepareMs, postMs, plan);
    }
    float[] probabilities = Postprocess.toProbabilities(output.floats(), manifest);
    List<Prediction> top = TopK.of(probabilities, TOP_K, manifest.getLabels());
    return new Classification(top, null, null, null, inferenceMs, prepareMs, postMs, plan);
  }

  /** A note for the results, or null: how to read the numbers. */
  String resultNote() {
    Manifest manifest = getManifest();
    StringBuilder sb = new StringBuilder();
    if (manifest.getTask() == Task.EMBEDDING) {
      sb.append("Embedding model: it outputs a feature vector, not classes. Compare images by the cosine"
          + " similarity of their vectors (1 = same direction).");
    }
    if (manifest.getTask() == Task.SEGMENTATION && manifest.getSegmentation() != null) {
      sb.append("Segmentation model: ").append(manifest.getSegmentation().describe())
          .append(". Each coloured area is a class of the legend; the background is left uncoloured."
              + " Tap the image to switch between the overlay and the photo.");
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
