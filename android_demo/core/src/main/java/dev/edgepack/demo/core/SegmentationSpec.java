package dev.edgepack.demo.core;

import dev.edgepack.demo.core.ManifestIssue.Code;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a segmentation model's manifest ({@code "task": "segmentation"}) promises about its output,
 * read and checked by {@link Manifest}. Two output kinds exist:
 *
 * <ul>
 *   <li>{@code "mask"}: a uint8 {@code [H, W]} tensor at the input frame's resolution, each value a
 *       class index below {@code num_classes}. The file did all the work; the app only colours it.
 *   <li>{@code "probabilities"}: float32 {@code [K, h, w]} per-class maps at the network's
 *       <em>output</em> resolution, which need not be its input's ({@code preprocess.input_size
 *       [3, net_h, net_w]}): edgepack's light decoder returns stride-4 maps (32×32 for a 128×128
 *       input), smp and torchvision models maps at the input's size. The app takes the most likely
 *       class per pixel and maps the map onto the frame, which needs both sizes and {@code
 *       preprocess.resize_policy}: with {@code "squash"} the map covers the whole frame stretched,
 *       with {@code "letterbox"} only a centred box of it does, computed in network input pixels
 *       and scaled to the map's ({@link MaskBox}; the manifest's {@code output.frame_mapping} says
 *       the same in words).
 * </ul>
 *
 * <p>Everything that would make the app draw a wrong overlay without noticing (an unknown kind or
 * resize policy, maps without a network input size to map them through, a mask with more classes
 * than uint8 holds, labels that do not match the classes) is an error here, before the model runs;
 * what can only be seen in the model's actual output is checked by {@link SegmentationOutput}.
 */
public final class SegmentationSpec {

  /** The manifest's {@code output.kind} for a segmentation model. */
  public enum Kind {
    MASK("mask", "uint8", "frame"),
    PROBABILITIES("probabilities", "float32", "network");

    public final String jsonName;
    /** The only {@code output.dtype} the app reads for this kind. */
    public final String dtype;
    /** The only {@code output.resolution} that goes with this kind. */
    public final String resolution;

    Kind(String jsonName, String dtype, String resolution) {
      this.jsonName = jsonName;
      this.dtype = dtype;
      this.resolution = resolution;
    }

    static Kind fromJson(String name) {
      for (Kind k : values()) if (k.jsonName.equals(name)) return k;
      return null;
    }
  }

  /** How the model's preprocessing fitted the frame into the network input ({@code preprocess.resize_policy}). */
  public enum ResizePolicy {
    /** The frame stretched to the whole network input (aspect ratio not kept). */
    SQUASH("squash"),
    /** The frame scaled to fit, aspect ratio kept, centred with padding ({@link MaskBox#letterbox}). */
    LETTERBOX("letterbox");

    public final String jsonName;

    ResizePolicy(String jsonName) {
      this.jsonName = jsonName;
    }

    static ResizePolicy fromJson(String name) {
      for (ResizePolicy p : values()) if (p.jsonName.equals(name)) return p;
      return null;
    }
  }

  /** A uint8 mask can name classes 0..255 only. */
  public static final int MAX_MASK_CLASSES = 256;
  /** The threshold of a single sigmoid map: above it a pixel belongs to the class. */
  public static final float SIGMOID_THRESHOLD = 0.5f;

  private final Kind kind;
  private final int numClasses;
  private final String activation;
  private final int mapHeight;
  private final int mapWidth;
  private final int inputHeight;
  private final int inputWidth;
  private final ResizePolicy resizePolicy;
  private final List<String> labels;

  private SegmentationSpec(
      Kind kind, int numClasses, String activation, int mapHeight, int mapWidth,
      int inputHeight, int inputWidth, ResizePolicy resizePolicy, List<String> labels) {
    this.kind = kind;
    this.numClasses = numClasses;
    this.activation = activation;
    this.mapHeight = mapHeight;
    this.mapWidth = mapWidth;
    this.inputHeight = inputHeight;
    this.inputWidth = inputWidth;
    this.resizePolicy = resizePolicy;
    this.labels = Collections.unmodifiableList(new ArrayList<>(labels));
  }

  /** For tests and callers that build a spec without a manifest: a mask of {@code numClasses}. */
  public static SegmentationSpec mask(int numClasses, List<String> labels) {
    if (numClasses < 1 || numClasses > MAX_MASK_CLASSES) {
      throw new IllegalArgumentException("a uint8 mask has 1 to 256 classes, not " + numClasses);
    }
    return new SegmentationSpec(Kind.MASK, numClasses, null, -1, -1, -1, -1, null, labels);
  }

  /**
   * For tests and callers that build a spec without a manifest: {@code [K, mapHeight, mapWidth]}
   * maps from a network whose input is {@code inputHeight × inputWidth} (preprocess.input_size).
   */
  public static SegmentationSpec probabilities(
      int numClasses, String activation, int mapHeight, int mapWidth, int inputHeight, int inputWidth,
      ResizePolicy policy, List<String> labels) {
    if (numClasses < 1 || mapHeight < 1 || mapWidth < 1 || inputHeight < 1 || inputWidth < 1 || policy == null) {
      throw new IllegalArgumentException("bad map spec");
    }
    return new SegmentationSpec(
        Kind.PROBABILITIES, numClasses, activation, mapHeight, mapWidth, inputHeight, inputWidth, policy, labels);
  }

  // ------------------------------------------------------------------ reading the manifest

  /**
   * Reads the segmentation parts of a manifest: {@code output} (kind, dtype, resolution,
   * num_classes, shape, activation), {@code preprocess} (resize_policy, input_size; only for
   * per-class maps) and the labels' count. Records every problem in {@code r}; returns null when
   * there was an error (the model is then refused).
   *
   * @param out the manifest's {@code output} object
   * @param preprocess the manifest's {@code preprocess} object, or null
   * @param labels the manifest's labels (empty when absent)
   */
  static SegmentationSpec read(
      Manifest.Reader r, Map<String, Object> out, Map<String, Object> preprocess, List<String> labels,
      String rebuildHint) {
    int errorsBefore = r.errorCount();
    String kindName = r.string(out, "kind", "output.kind", Code.OUTPUT_KIND_UNSUPPORTED);
    Kind kind = Kind.fromJson(kindName);
    if (kind == null) {
      if (kindName != null || out.get("kind") == null) {
        r.issue(
            Code.OUTPUT_KIND_UNSUPPORTED,
            (kindName == null
                    ? "The segmentation model's output has no \"kind\"."
                    : "The segmentation model's output kind \"" + kindName + "\" is not supported.")
                + " The app draws a class \"mask\" (a class index per frame pixel) or per-class"
                + " \"probabilities\" maps. " + rebuildHint);
      }
      return null;
    }

    String dtype = r.string(out, "dtype", "output.dtype", Code.OUTPUT_DTYPE_UNSUPPORTED);
    if (dtype != null && !dtype.equals(kind.dtype)) {
      r.issue(
          Code.OUTPUT_DTYPE_UNSUPPORTED,
          "The segmentation model's " + kind.jsonName + " output is " + dtype + "; the app reads "
              + (kind == Kind.MASK ? "uint8 class indices" : "float32 per-class maps")
              + " for that kind. " + rebuildHint);
    }
    String resolution = r.string(out, "resolution", "output.resolution", Code.OUTPUT_SHAPE_INVALID);
    if (resolution != null && !resolution.equals(kind.resolution)) {
      r.issue(
          Code.OUTPUT_SHAPE_INVALID,
          "The manifest says output.resolution \"" + resolution + "\" for a " + kind.jsonName
              + " output; the app maps " + (kind == Kind.MASK
                  ? "a mask at the photo's own resolution (\"frame\")"
                  : "per-class maps at the network's resolution (\"network\")")
              + " onto the photo and would draw the overlay in the wrong place. " + rebuildHint);
    }

    Long declared = r.integer(out, "num_classes", "output.num_classes", Code.OUTPUT_NUM_CLASSES_INVALID);
    int mapK = -1;
    int mapH = -1;
    int mapW = -1;
    if (kind == Kind.MASK) {
      checkMaskShape(r, out.get("shape"), rebuildHint);
    } else {
      List<Long> shape = r.integers(out, "shape", "output.shape", Code.OUTPUT_SHAPE_INVALID);
      if (shape == null) {
        if (out.get("shape") == null) {
          r.issue(
              Code.OUTPUT_SHAPE_INVALID,
              "The manifest gives no output.shape [K, h, w] for the per-class maps. " + rebuildHint);
        }
      } else if (!isMapShape(shape)) {
        r.issue(
            Code.OUTPUT_SHAPE_INVALID,
            "The manifest's output.shape " + shape + " is not [K, h, w] with positive sizes an array"
                + " can hold (per-class maps). " + rebuildHint);
      } else {
        mapK = shape.get(0).intValue();
        mapH = shape.get(1).intValue();
        mapW = shape.get(2).intValue();
      }
    }

    int k = -1;
    if (declared != null) {
      if (declared < 1) {
        r.issue(Code.OUTPUT_NUM_CLASSES_INVALID, "The manifest's output.num_classes must be at least 1.");
      } else if (kind == Kind.MASK && declared > MAX_MASK_CLASSES) {
        r.issue(
            Code.OUTPUT_NUM_CLASSES_INVALID,
            "The manifest says the uint8 mask has " + declared + " classes, but uint8 values name at"
                + " most " + MAX_MASK_CLASSES + ". " + rebuildHint);
      } else {
        k = declared.intValue();
      }
    } else if (out.get("num_classes") == null) {
      if (mapK > 0) {
        k = mapK;
      } else if (kind == Kind.MASK && !labels.isEmpty() && labels.size() <= MAX_MASK_CLASSES) {
        k = labels.size();
      } else {
        r.issue(
            Code.OUTPUT_NUM_CLASSES_INVALID,
            "The manifest gives no output.num_classes, so the app can't check the mask's class"
                + " indices. " + rebuildHint);
      }
    }
    if (k > 0 && mapK > 0 && k != mapK) {
      r.issue(
          Code.OUTPUT_NUM_CLASSES_INVALID,
          "The manifest's output.shape has " + mapK + " maps but output.num_classes is " + k
              + " (a damaged or edited manifest). " + rebuildHint);
    }

    String activation = null;
    ResizePolicy policy = null;
    int[] inputSize = null;
    if (kind == Kind.PROBABILITIES) {
      activation = readActivation(r, out, k, rebuildHint);
      policy = readResizePolicy(r, preprocess, rebuildHint);
      inputSize = readInputSize(r, preprocess, rebuildHint);
    }

    if (k > 0 && !labels.isEmpty()) {
      boolean binarySigmoid = kind == Kind.PROBABILITIES && k == 1 && "sigmoid".equals(activation);
      boolean ok = labels.size() == k || (binarySigmoid && labels.size() == 2);
      if (!ok) {
        r.issue(
            Code.LABELS_COUNT_MISMATCH,
            "The manifest lists " + labels.size() + " labels but the segmentation model has " + k
                + (k == 1 ? " class" : " classes")
                + ". Rebuild with a labels file that has one line per class (--labels FILE).");
      }
    }
    if (r.errorCount() > errorsBefore) return null;
    int inputH = inputSize == null ? -1 : inputSize[0];
    int inputW = inputSize == null ? -1 : inputSize[1];
    return new SegmentationSpec(kind, k, activation, mapH, mapW, inputH, inputW, policy, labels);
  }

  /** A mask's shape is symbolic (["H", "W"]: the frame's); absent is fine, anything else is not 2-d. */
  private static void checkMaskShape(Manifest.Reader r, Object shape, String rebuildHint) {
    if (shape == null) return;
    boolean ok = shape instanceof List && ((List<?>) shape).size() == 2;
    if (ok) {
      for (Object d : (List<?>) shape) {
        Long n = Manifest.Reader.asInteger(d);
        if (!(d instanceof String) && (n == null || n < 1)) ok = false;
      }
    }
    if (!ok) {
      r.issue(
          Code.OUTPUT_SHAPE_INVALID,
          "The manifest's output.shape " + Json.write(shape) + " is not a 2-d mask [\"H\", \"W\"] at"
              + " the photo's resolution. " + rebuildHint);
    }
  }

  private static boolean isMapShape(List<Long> shape) {
    if (shape.size() != 3) return false;
    long product = 1;
    for (Long d : shape) {
      if (d < 1 || d > Integer.MAX_VALUE / product) return false;
      product *= d;
    }
    return true;
  }

  /**
   * softmax or sigmoid. With several maps either gives the same most likely class; with one map
   * only a sigmoid means something (above 0.5: the class), so it is required there.
   */
  private static String readActivation(Manifest.Reader r, Map<String, Object> out, int k, String rebuildHint) {
    String activation = r.string(out, "activation", "output.activation", Code.OUTPUT_KIND_UNSUPPORTED);
    if (activation != null && !activation.equals("softmax") && !activation.equals("sigmoid")) {
      r.issue(
          Code.OUTPUT_KIND_UNSUPPORTED,
          "The per-class maps' activation \"" + activation + "\" is not one the app reads (\"softmax\""
              + " or \"sigmoid\"). " + rebuildHint);
      return null;
    }
    if (k == 1 && !"sigmoid".equals(activation)) {
      r.issue(
          Code.OUTPUT_KIND_UNSUPPORTED,
          "The model has a single per-class map "
              + (activation == null ? "and no output.activation" : "with softmax (always 1)")
              + ": the app can only tell the class from the background with a sigmoid map"
              + " (above 0.5). " + rebuildHint);
    }
    return activation;
  }

  private static ResizePolicy readResizePolicy(
      Manifest.Reader r, Map<String, Object> preprocess, String rebuildHint) {
    String name = r.string(preprocess, "resize_policy", "preprocess.resize_policy", Code.RESIZE_POLICY_UNSUPPORTED);
    ResizePolicy policy = ResizePolicy.fromJson(name);
    if (policy == null && (name != null || preprocess == null || preprocess.get("resize_policy") == null)) {
      r.issue(
          Code.RESIZE_POLICY_UNSUPPORTED,
          (name == null
                  ? "The manifest gives no preprocess.resize_policy"
                  : "The manifest's preprocess.resize_policy \"" + name + "\" is not one the app knows")
              + " (\"squash\" or \"letterbox\"), so the app can't tell which part of the per-class"
              + " maps shows the photo. " + rebuildHint);
    }
    return policy;
  }

  /**
   * The network input's {@code [3, net_h, net_w]} ({@code preprocess.input_size}), as {@code
   * {net_h, net_w}}; null, with an issue recorded, when absent or not that. Per-class maps need it
   * even when their own size is known: with letterbox the frame's box is computed in input pixels
   * and only then scaled to the maps', which may be smaller (stride-4 decoders) or, for other
   * models, the same size; nothing in the maps' shape tells which. Every edgepack manifest has it.
   */
  private static int[] readInputSize(Manifest.Reader r, Map<String, Object> preprocess, String rebuildHint) {
    List<Long> size = r.integers(preprocess, "input_size", "preprocess.input_size", Code.OUTPUT_SHAPE_INVALID);
    if (size == null) {
      // a value of the wrong type was reported by the typed read
      if (preprocess == null || preprocess.get("input_size") == null) {
        r.issue(
            Code.OUTPUT_SHAPE_INVALID,
            "The manifest gives no preprocess.input_size [3, h, w], so the app can't tell which part"
                + " of the per-class maps shows the photo. " + rebuildHint);
      }
      return null;
    }
    boolean ok = size.size() == 3 && size.get(0) == 3;
    for (int i = 1; ok && i < 3; i++) ok = size.get(i) >= 1 && size.get(i) <= Integer.MAX_VALUE;
    if (!ok) {
      r.issue(
          Code.OUTPUT_SHAPE_INVALID,
          "The manifest's preprocess.input_size " + size + " is not [3, h, w] with positive sizes"
              + " (a damaged or edited manifest). " + rebuildHint);
      return null;
    }
    return new int[] {size.get(1).intValue(), size.get(2).intValue()};
  }

  // ------------------------------------------------------------------ accessors

  public Kind getKind() {
    return kind;
  }

  public boolean isMask() {
    return kind == Kind.MASK;
  }

  /** The manifest's {@code num_classes}: the values of a mask, the maps of a probabilities output. */
  public int getNumClasses() {
    return numClasses;
  }

  /** "softmax", "sigmoid" or null (a mask, or maps that did not say). */
  public String getActivation() {
    return activation;
  }

  /** One sigmoid map: class 1 where it is above {@link #SIGMOID_THRESHOLD}, else 0 (background). */
  public boolean isBinarySigmoid() {
    return kind == Kind.PROBABILITIES && numClasses == 1 && "sigmoid".equals(activation);
  }

  /**
   * The number of classes a pixel can have: {@code num_classes}, or 2 for one sigmoid map
   * (background and the class). Class indices are 0 .. getClassCount() - 1.
   */
  public int getClassCount() {
    return isBinarySigmoid() ? 2 : numClasses;
  }

  /** The maps' height (h of {@code [K, h, w]}); -1 for a mask. */
  public int getMapHeight() {
    return mapHeight;
  }

  /** The maps' width (w of {@code [K, h, w]}); -1 for a mask. */
  public int getMapWidth() {
    return mapWidth;
  }

  /** The network input's height (net_h of {@code preprocess.input_size}) for per-class maps; -1 for a mask. */
  public int getInputHeight() {
    return inputHeight;
  }

  /** The network input's width (net_w of {@code preprocess.input_size}) for per-class maps; -1 for a mask. */
  public int getInputWidth() {
    return inputWidth;
  }

  /** The resize policy of per-class maps; null for a mask (it is at the frame's resolution). */
  public ResizePolicy getResizePolicy() {
    return resizePolicy;
  }

  /**
   * The box of the per-class maps that shows a {@code frameWidth × frameHeight} frame ({@link
   * MaskBox#forPolicy}): all of them for squash, the frame's letterbox box, computed in network
   * input pixels and scaled to the maps', for letterbox. For a mask (already the frame's), the
   * whole frame.
   */
  public MaskBox frameBox(int frameWidth, int frameHeight) {
    if (isMask()) return MaskBox.whole(frameWidth, frameHeight);
    return MaskBox.forPolicy(
        resizePolicy, frameWidth, frameHeight, inputWidth, inputHeight, mapWidth, mapHeight);
  }

  /** The shape the model's output must have for a frame of {@code width × height}. */
  public long[] expectedShape(int frameWidth, int frameHeight) {
    return isMask()
        ? new long[] {frameHeight, frameWidth}
        : new long[] {numClasses, mapHeight, mapWidth};
  }

  /**
   * The display name of class {@code index}: its label, or "class N". One sigmoid map has one
   * label (the class; class 0 is then "background") or two (background and the class).
   */
  public String className(int index) {
    if (isBinarySigmoid() && labels.size() < 2) {
      if (index == 0) return "background";
      if (index == 1) return labels.isEmpty() ? "foreground" : LabelFormat.labelFor(labels, 0);
    }
    return LabelFormat.labelFor(labels, index);
  }

  /** For the results note, e.g. "a class mask at the photo's resolution". */
  public String describe() {
    if (isMask()) return "a class mask at the photo's resolution";
    String input = inputWidth == mapWidth && inputHeight == mapHeight
        ? "" : String.format(Locale.ROOT, " from a %d×%d input", inputWidth, inputHeight);
    return String.format(
        Locale.ROOT, "%d per-class %s at %d×%d%s (%s%s), the most likely class per pixel shown",
        numClasses, numClasses == 1 ? "map" : "maps", mapWidth, mapHeight, input,
        activation == null ? "" : activation + ", ", resizePolicy.jsonName);
  }

  /** The {@link OutputSpec} the rest of the manifest code sees for this output. */
  OutputSpec toOutputSpec() {
    List<Long> shape = isMask() ? null : Arrays.asList((long) numClasses, (long) mapHeight, (long) mapWidth);
    return new OutputSpec(kind.jsonName, activation, kind.dtype, shape, numClasses);
  }
}
