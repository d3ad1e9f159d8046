package dev.edgepack.demo.core;

import dev.edgepack.demo.core.ManifestIssue.Code;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The edgepack manifest (schema 1) stored inside a model file, read leniently and checked against
 * what the demo app can run: in a {@code .ptl} the extra file {@code edgepack.json}, in a {@code
 * .pte} the string returned by the constant method {@code edgepack_manifest} (see {@link
 * PteManifest}). The same JSON document in both, with {@code "format": "pte"} in {@code .pte} files
 * ({@code "ptl"} in new {@code .ptl} files; absent in older {@code .ptl} files, which means ptl).
 *
 * <p>The manifest is untrusted input: every value's type is checked. Unknown keys are ignored
 * (forward compatible). {@link #parse(String, ModelFormat)} only fails for text that is not a JSON
 * object; every other problem is reported by {@link #check()}, so the app can show all of them at
 * once. {@link #parseCompatible(String, ModelFormat)} does both and throws with a user-facing
 * message when the model can't be used.
 */
public final class Manifest {
  /** The highest manifest schema this app understands. */
  public static final int SUPPORTED_SCHEMA = 1;
  /** Name of the extra file inside the .ptl ({@code LiteModuleLoader.load(path, extraFiles, ..)}). */
  public static final String EXTRA_FILE_NAME = "edgepack.json";
  /** Name of the constant method inside the .pte that returns the manifest as one string. */
  public static final String PTE_METHOD_NAME = "edgepack_manifest";
  /** Bytecode versions the lite interpreter in pytorch_android_lite 2.1.0 loads. */
  public static final int MIN_BYTECODE_VERSION = 4;
  public static final int MAX_BYTECODE_VERSION = 9;
  /** The app always sends RGBA pixels (what Bitmap.copyPixelsToBuffer gives). */
  public static final int APP_INPUT_CHANNELS = 4;

  private final ModelFormat format;
  private final String rebuildHint;
  private final Map<String, Object> raw;
  private final Long schema;
  private final String edgepackVersion;
  private final String torchVersion;
  private final Task task;
  private final List<String> labels;
  private final InputSpec input;
  private final OutputSpec output;
  private final SegmentationSpec segmentation;
  private final String quantizationMode;
  private final String optimizerPath;
  private final Long bytecodeVersion;
  private final Boolean validationPassed;
  private final String sourceName;
  private final String sourceArch;
  private final String executorchVersion;
  private final ManifestCheck check;

  // ------------------------------------------------------------------ construction

  /** {@link #parse(String, ModelFormat)} for a manifest read from a {@code .ptl}. */
  public static Manifest parse(String json) throws ManifestException {
    return parse(json, ModelFormat.PTL);
  }

  /**
   * Parses manifest text read from a file of format {@code format}. Throws only when the text is
   * empty, not JSON, or not a JSON object; compatibility problems are in {@link #check()}.
   */
  public static Manifest parse(String json, ModelFormat format) throws ManifestException {
    if (format == null) throw new IllegalArgumentException("format is required");
    String where = where(format);
    if (json == null || json.trim().isEmpty()) {
      throw new ManifestException(
          "The model file has no "
              + where
              + ", so it was not built by edgepack (or by a very old version). "
              + hintFor(format));
    }
    Map<String, Object> map;
    try {
      map = Json.parseObject(json);
    } catch (JsonParseException e) {
      throw new ManifestException("The model's " + where + " could not be read: " + e.getMessage(), e);
    }
    return new Manifest(map, format);
  }

  /** {@link #parseCompatible(String, ModelFormat)} for a manifest read from a {@code .ptl}. */
  public static Manifest parseCompatible(String json) throws ManifestException {
    return parseCompatible(json, ModelFormat.PTL);
  }

  /** Parses and checks; throws a {@link ManifestException} carrying the check when incompatible. */
  public static Manifest parseCompatible(String json, ModelFormat format) throws ManifestException {
    Manifest m = parse(json, format);
    if (!m.check.isCompatible()) {
      throw new ManifestException(m.check.userMessage(), m.check, null);
    }
    return m;
  }

  /** How the manifest is stored in a file of this format, for messages. */
  static String where(ModelFormat format) {
    return format == ModelFormat.PTE
        ? PTE_METHOD_NAME + " manifest (the constant method that holds edgepack's manifest)"
        : EXTRA_FILE_NAME + " manifest";
  }

  static String hintFor(ModelFormat format) {
    return "Rebuild it with edgepack's default image input: " + format.buildCommand();
  }

  private Manifest(Map<String, Object> map, ModelFormat format) {
    this.format = format;
    this.rebuildHint = hintFor(format);
    this.raw = Collections.unmodifiableMap(new LinkedHashMap<>(map));
    Reader r = new Reader();
    List<ManifestIssue> issues = new ArrayList<>();

    // schema first: a newer schema may have changed anything else, so report only that.
    Object schemaValue = map.get("schema");
    Long schemaNumber = null;
    if (!map.containsKey("schema") || schemaValue == null) {
      issues.add(
          new ManifestIssue(
              Code.SCHEMA_MISSING,
              "The manifest has no \"schema\" number, so it is not an edgepack manifest. "
                  + rebuildHint));
    } else {
      schemaNumber = Reader.asInteger(schemaValue);
      if (schemaNumber == null || schemaNumber < 1) {
        issues.add(
            new ManifestIssue(
                Code.SCHEMA_INVALID,
                "The manifest's \"schema\" must be a positive integer, got "
                    + Json.write(schemaValue)
                    + "."));
        schemaNumber = null;
      } else if (schemaNumber > SUPPORTED_SCHEMA) {
        issues.add(
            new ManifestIssue(
                Code.SCHEMA_TOO_NEW,
                "The model was packaged by a newer edgepack (manifest schema "
                    + schemaNumber
                    + "); this app understands schema "
                    + SUPPORTED_SCHEMA
                    + " only. Update the demo app, or rebuild the model with an edgepack"
                    + " version that writes schema "
                    + SUPPORTED_SCHEMA
                    + "."));
      }
    }
    this.schema = schemaNumber;

    this.edgepackVersion = r.string(map, "edgepack_version", "edgepack_version", null);
    this.torchVersion = r.string(map, "torch_version", "torch_version", null);
    this.quantizationMode = r.string(r.object(map, "quantization", null), "mode", "quantization.mode", null);
    this.optimizerPath = r.string(r.object(map, "optimizer", null), "path", "optimizer.path", null);
    Map<String, Object> source = r.object(map, "source", null);
    this.sourceName = r.string(source, "name", "source.name", null);
    this.sourceArch = r.string(source, "arch", "source.arch", null);

    readFormat(r, map);
    this.executorchVersion = readExecutorch(r, map);

    // task
    String taskName = r.string(map, "task", "task", Code.TASK_UNSUPPORTED);
    Task parsedTask = null;
    if (!map.containsKey("task") || map.get("task") == null) {
      r.issue(
          Code.TASK_MISSING,
          "The manifest has no \"task\" (expected \"multiclass\", \"multilabel\", \"embedding\""
              + " or \"segmentation\").");
    } else if (taskName != null) {
      parsedTask = Task.fromJson(taskName);
      if (parsedTask == null) {
        r.issue(
            Code.TASK_UNSUPPORTED,
            "The model's task \""
                + taskName
                + "\" is not supported; the demo app shows \"multiclass\" and \"multilabel\""
                + " classifiers, \"embedding\" models and \"segmentation\" models.");
      }
    }
    this.task = parsedTask;

    // labels (absent/null/empty is fine: shown as "class N")
    List<String> parsedLabels = new ArrayList<>();
    boolean labelsValid = true;
    Object labelsValue = map.get("labels");
    if (labelsValue != null) {
      if (!(labelsValue instanceof List)) {
        labelsValid = false;
        r.issue(
            Code.LABELS_INVALID,
            "The manifest's \"labels\" must be an array of strings, got "
                + Json.typeName(labelsValue)
                + ".");
      } else {
        List<?> list = (List<?>) labelsValue;
        for (int i = 0; i < list.size(); i++) {
          Object item = list.get(i);
          if (!(item instanceof String)) {
            labelsValid = false;
            r.issue(
                Code.LABELS_INVALID,
                "The manifest's \"labels\" must be an array of strings; entry "
                    + i
                    + " is "
                    + Json.typeName(item)
                    + ".");
            break;
          }
          parsedLabels.add((String) item);
        }
      }
    }
    if (!labelsValid) {
      parsedLabels.clear();
    }
    this.labels = Collections.unmodifiableList(parsedLabels);

    this.input = readInput(r, map);
    if (parsedTask == Task.SEGMENTATION) {
      // its own output kinds, shapes and preprocessing; it checks the labels' count itself
      this.segmentation = readSegmentation(r, map, parsedLabels);
      this.output = segmentation == null ? null : segmentation.toOutputSpec();
    } else {
      this.segmentation = null;
      this.output = readOutput(r, map, labelsValid ? parsedLabels.size() : 0);
    }

    if (labelsValid && labelsValue != null && !parsedLabels.isEmpty() && parsedTask != Task.SEGMENTATION
        && output != null && output.getNumClasses() > 0
        && parsedLabels.size() != output.getNumClasses()) {
      r.issue(
          Code.LABELS_COUNT_MISMATCH,
          "The manifest lists "
              + parsedLabels.size()
              + " labels but the model has "
              + output.getNumClasses()
              + " classes. Rebuild with a labels file that has one line per class (--labels FILE).");
    }
    if (parsedTask == Task.EMBEDDING && !parsedLabels.isEmpty()) {
      r.issue(
          Code.LABELS_INVALID,
          "The manifest lists labels for an embedding model, which has no classes (a damaged or"
              + " edited manifest). " + rebuildHint);
    }
    if (labelsValid && parsedLabels.isEmpty() && parsedTask != Task.EMBEDDING) {
      r.issue(
          Code.LABELS_MISSING,
          "The model has no class names; results are shown as \"class N\". "
              + "Pass --labels FILE to edgepack build to include them.");
    }

    // bytecode version (optional; a .ptl property: a .pte has none, and one there is ignored)
    Long bc = null;
    if (format == ModelFormat.PTL && map.get("bytecode_version") != null) {
      bc = Reader.asInteger(map.get("bytecode_version"));
      if (bc == null) {
        r.issue(Code.BYTECODE_UNSUPPORTED, "The manifest's \"bytecode_version\" must be an integer.");
      } else if (bc < MIN_BYTECODE_VERSION || bc > MAX_BYTECODE_VERSION) {
        r.issue(
            Code.BYTECODE_UNSUPPORTED,
            "The model uses bytecode version "
                + bc
                + " but pytorch_android_lite 2.1.0 loads versions "
                + MIN_BYTECODE_VERSION
                + " to "
                + MAX_BYTECODE_VERSION
                + ". Rebuild with --bytecode-version 8.");
      }
    }
    this.bytecodeVersion = bc;

    // validation (optional)
    Map<String, Object> validation = r.object(map, "validation", null);
    Boolean passed = validation == null ? null : r.bool(validation, "passed", "validation.passed", null);
    this.validationPassed = passed;
    if (Boolean.FALSE.equals(passed)) {
      r.issue(
          Code.VALIDATION_NOT_PASSED,
          "This file failed edgepack's validation against the original model and was kept on"
              + " request; its results may differ from the desktop model.");
    }

    if (schemaNumber != null && schemaNumber > SUPPORTED_SCHEMA) {
      // only the schema message: the rest may have changed meaning
    } else {
      issues.addAll(r.issues);
    }
    this.check = new ManifestCheck(issues);
  }

  /**
   * The manifest's {@code format} must name the format of the file it was read from; absent means
   * "ptl" (manifests written before edgepack had a second format).
   */
  private void readFormat(Reader r, Map<String, Object> map) {
    Object value = map.get("format");
    if (value == null) {
      if (format != ModelFormat.PTL) {
        r.issue(
            Code.FORMAT_MISMATCH,
            "The manifest read from this ." + format.jsonName + " has no \"format\" (which means a"
                + " .ptl file): the file and its manifest disagree. " + rebuildHint);
      }
      return;
    }
    if (!(value instanceof String)) {
      r.issue(
          Code.FORMAT_UNSUPPORTED,
          "The manifest's \"format\" must be a string, got " + Json.typeName(value) + ".");
      return;
    }
    ModelFormat declared = ModelFormat.fromJson((String) value);
    if (declared == null || !declared.jsonName.equals(value)) {
      r.issue(
          Code.FORMAT_UNSUPPORTED,
          "The manifest's format \"" + value + "\" is not one this app runs (\"pte\" or \"ptl\").");
    } else if (declared != format) {
      r.issue(
          Code.FORMAT_MISMATCH,
          "The manifest says \"format\": \"" + value + "\" but it was read from a ." + format.jsonName
              + " file: the file and its manifest disagree. " + rebuildHint);
    }
  }

  /**
   * The {@code executorch} section of a {@code .pte} manifest: {@code version} (the ExecuTorch that
   * wrote the file) is compared with the app's runtime. Ignored for {@code .ptl} files.
   */
  private String readExecutorch(Reader r, Map<String, Object> map) {
    if (format != ModelFormat.PTE) return null;
    Map<String, Object> et = r.object(map, "executorch", Code.EXECUTORCH_INVALID);
    if (et == null) {
      if (map.get("executorch") == null) {
        r.issue(
            Code.EXECUTORCH_VERSION_UNKNOWN,
            "The manifest does not say which ExecuTorch version wrote this .pte; the app's runtime"
                + " is " + ModelFormat.PTE.runtimeName() + ".");
      }
      return null;
    }
    String version = r.string(et, "version", "executorch.version", Code.EXECUTORCH_INVALID);
    if (version == null) {
      if (et.get("version") == null) {
        r.issue(
            Code.EXECUTORCH_VERSION_UNKNOWN,
            "The manifest does not say which ExecuTorch version wrote this .pte; the app's runtime"
                + " is " + ModelFormat.PTE.runtimeName() + ".");
      }
      return null;
    }
    String runtime = ModelFormat.PTE.runtimeName();
    switch (RuntimeVersions.pteCompatibility(version, RuntimeVersions.EXECUTORCH_ANDROID)) {
      case SUPPORTED:
        break;
      case FILE_NEWER:
        r.issue(
            Code.EXECUTORCH_VERSION_UNCERTAIN,
            "This .pte was written by ExecuTorch " + version + ", newer than the app's runtime ("
                + runtime + "); ExecuTorch does not promise that older runtimes load newer files."
                + " If loading fails, update executorch-android in app/build.gradle.kts to "
                + version + ".");
        break;
      case FILE_OLDER:
        r.issue(
            Code.EXECUTORCH_VERSION_UNCERTAIN,
            "This .pte was written by ExecuTorch " + version + "; the app's runtime (" + runtime
                + ") is promised to load files from its own and the previous release only."
                + " If loading fails, rebuild the file with the current edgepack.");
        break;
      default:
        r.issue(
            Code.EXECUTORCH_VERSION_UNKNOWN,
            "The manifest's executorch.version \"" + version + "\" is not a version number; the"
                + " app's runtime is " + runtime + ".");
    }
    return version;
  }

  private InputSpec readInput(Reader r, Map<String, Object> map) {
    Object value = map.get("input");
    if (!(value instanceof Map)) {
      r.issue(
          Code.INPUT_MISSING,
          value == null
              ? "The manifest has no \"input\" description. " + rebuildHint
              : "The manifest's \"input\" must be an object, got " + Json.typeName(value) + ".");
      return null;
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> in = (Map<String, Object>) value;
    String kind = r.string(in, "kind", "input.kind", Code.INPUT_KIND_UNSUPPORTED);
    boolean image = InputSpec.KIND_IMAGE.equals(kind);
    String dtype = r.string(in, "dtype", "input.dtype", Code.INPUT_DTYPE_UNSUPPORTED);
    String layout = r.string(in, "layout", "input.layout", Code.INPUT_LAYOUT_UNSUPPORTED);
    String color = r.string(in, "color", "input.color", Code.INPUT_COLOR_UNSUPPORTED);
    List<Long> channelsRaw = r.integers(in, "channels", "input.channels", Code.INPUT_CHANNELS_UNSUPPORTED);
    List<Long> shape = r.integers(in, "shape", "input.shape", image ? null : Code.INPUT_KIND_UNSUPPORTED);
    Long minSide = r.integer(in, "min_side", "input.min_side", Code.INPUT_SIDES_INVALID);
    Long maxSide = r.integer(in, "max_side", "input.max_side", Code.INPUT_SIDES_INVALID);
    Boolean downscale = r.bool(in, "downscale_ok", "input.downscale_ok", Code.INPUT_SIDES_INVALID);

    List<Integer> channels = new ArrayList<>();
    if (channelsRaw == null) {
      channels.addAll(Arrays.asList(3, 4));
    } else {
      for (Long c : channelsRaw) channels.add(c.intValue());
    }

    if (kind == null) {
      // absent or null; a value of another type was reported by the typed read above
      if (!in.containsKey("kind") || in.get("kind") == null) {
        r.issue(Code.INPUT_KIND_UNSUPPORTED, "The manifest's input has no \"kind\". " + rebuildHint);
      }
    } else if (InputSpec.KIND_TENSOR.equals(kind) || InputSpec.KIND_FLOAT.equals(kind)) {
      String shapeText = shape == null ? "" : " " + shape;
      r.issue(
          Code.INPUT_FLOAT_TENSOR,
          "This model takes a preprocessed "
              + (dtype == null ? "float" : dtype)
              + " tensor"
              + shapeText
              + " (it was built with --input float), but the demo app feeds camera images as"
              + " raw pixels and needs an image-input build. Rebuild without --input float: "
              + format.buildCommand());
    } else if (!image) {
      r.issue(
          Code.INPUT_KIND_UNSUPPORTED,
          "The model's input kind \"" + kind + "\" is not supported by this app (it supports \"image\"). "
              + rebuildHint);
    } else {
      if (dtype != null && !dtype.equals("uint8")) {
        r.issue(
            Code.INPUT_DTYPE_UNSUPPORTED,
            "The model's image input is " + dtype + "; the app sends uint8 pixels. " + rebuildHint);
      }
      if (layout != null && !layout.equals("HWC")) {
        r.issue(
            Code.INPUT_LAYOUT_UNSUPPORTED,
            "The model's image input layout is " + layout + "; the app sends HWC pixels. " + rebuildHint);
      }
      for (Integer c : channels) {
        if (c != 3 && c != 4) {
          r.issue(
              Code.INPUT_CHANNELS_UNSUPPORTED,
              "The manifest's input.channels " + channels + " names a channel count other than 3 (RGB)"
                  + " or 4 (RGBA): the file or its manifest is damaged. " + rebuildHint);
          break;
        }
      }
      if (!channels.contains(APP_INPUT_CHANNELS)) {
        r.issue(
            Code.INPUT_CHANNELS_UNSUPPORTED,
            "The model accepts images with "
                + channels
                + " channels, but the app sends RGBA (4 channels) from Android bitmaps. "
                + rebuildHint);
      }
      if (color != null) {
        String c = color.toUpperCase(Locale.ROOT);
        if (!c.equals("RGB") && !c.equals("RGBA")) {
          r.issue(
              Code.INPUT_COLOR_UNSUPPORTED,
              "The model expects " + color + " colour order; the app sends RGB(A). " + rebuildHint);
        }
      }
      if (minSide != null && minSide < 1) {
        r.issue(Code.INPUT_SIDES_INVALID, "The manifest's input.min_side must be at least 1.");
      }
      if (maxSide != null && maxSide < 1) {
        r.issue(Code.INPUT_SIDES_INVALID, "The manifest's input.max_side must be at least 1.");
      }
      if (minSide != null && maxSide != null && minSide > maxSide) {
        r.issue(
            Code.INPUT_SIDES_INVALID,
            "The manifest's input.min_side (" + minSide + ") is larger than input.max_side (" + maxSide + ").");
      }
      if (format == ModelFormat.PTE && in.get("max_side") == null) {
        // ExecuTorch plans memory for the largest frame, so a .pte refuses larger ones: the app
        // must know that bound to shrink photos below it (a wrong type was reported above)
        r.issue(
            Code.INPUT_SIDES_INVALID,
            "The manifest of this .pte gives no input.max_side (the largest frame side the"
                + " program accepts), so the app can't size images for it. " + rebuildHint);
      }
    }
    return new InputSpec(
        kind,
        dtype != null ? dtype : (image ? "uint8" : null),
        layout != null ? layout : (image ? "HWC" : null),
        channels,
        color != null ? color : "RGB",
        minSide == null ? 1 : (int) Math.max(1L, Math.min(minSide, Integer.MAX_VALUE)),
        maxSide == null ? Integer.MAX_VALUE : (int) Math.max(1L, Math.min(maxSide, Integer.MAX_VALUE)),
        downscale != null && downscale,
        shape);
  }

  /** The manifest's {@code output} object, or null (then OUTPUT_MISSING is recorded). */
  private Map<String, Object> outputObject(Reader r, Map<String, Object> map) {
    Object value = map.get("output");
    if (!(value instanceof Map)) {
      r.issue(
          Code.OUTPUT_MISSING,
          value == null
              ? "The manifest has no \"output\" description. " + rebuildHint
              : "The manifest's \"output\" must be an object, got " + Json.typeName(value) + ".");
      return null;
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> out = (Map<String, Object>) value;
    return out;
  }

  /** A segmentation model's output and the preprocessing it depends on; null when unusable. */
  private SegmentationSpec readSegmentation(Reader r, Map<String, Object> map, List<String> labels) {
    Map<String, Object> out = outputObject(r, map);
    if (out == null) return null;
    Map<String, Object> preprocess = r.object(map, "preprocess", Code.RESIZE_POLICY_UNSUPPORTED);
    return SegmentationSpec.read(r, out, preprocess, labels, rebuildHint);
  }

  private OutputSpec readOutput(Reader r, Map<String, Object> map, int labelCount) {
    Map<String, Object> out = outputObject(r, map);
    if (out == null) return null;
    String kind = r.string(out, "kind", "output.kind", Code.OUTPUT_KIND_UNSUPPORTED);
    String activation = r.string(out, "activation", "output.activation", null);
    String dtype = r.string(out, "dtype", "output.dtype", Code.OUTPUT_DTYPE_UNSUPPORTED);
    List<Long> shape = r.integers(out, "shape", "output.shape", Code.OUTPUT_NUM_CLASSES_INVALID);
    boolean embedding = OutputSpec.KIND_EMBEDDING.equals(kind);
    // an embedding's size is "dim"; a classifier's "num_classes" (same checks against the shape)
    String sizeKey = embedding ? "dim" : "num_classes";
    Long numClasses = r.integer(out, sizeKey, "output." + sizeKey, Code.OUTPUT_NUM_CLASSES_INVALID);
    if ((task == Task.EMBEDDING) != embedding && task != null && kind != null) {
      r.issue(
          Code.OUTPUT_KIND_UNSUPPORTED,
          "The model's output kind \"" + kind + "\" does not go with its task \"" + task.jsonName
              + "\" (a damaged or edited manifest). " + rebuildHint);
    }

    if (kind == null) {
      if (!out.containsKey("kind") || out.get("kind") == null) {
        r.issue(Code.OUTPUT_KIND_UNSUPPORTED, "The manifest's output has no \"kind\".");
      }
    } else if (kind.equals(OutputSpec.KIND_LOGITS)) {
      String act = task != null ? task.activation : "softmax";
      r.issue(
          Code.OUTPUT_LOGITS,
          "The model outputs raw logits (built with --output logits); the app applies "
              + act
              + " itself to show probabilities.");
    } else if (embedding) {
      if (activation != null && !activation.equals(Task.EMBEDDING.activation)) {
        r.issue(
            Code.OUTPUT_KIND_UNSUPPORTED,
            "The embedding's activation must be \"l2norm\", got \"" + activation + "\". " + rebuildHint);
      }
    } else if (kind.equals(OutputSpec.KIND_PROBABILITIES)) {
      if (activation != null && task != null && !activation.equals(task.activation)) {
        r.issue(
            Code.ACTIVATION_MISMATCH,
            "The model applies "
                + activation
                + " but its task is "
                + task.jsonName
                + " (which normally uses "
                + task.activation
                + "); probabilities are shown as the model gives them.");
      }
    } else {
      r.issue(
          Code.OUTPUT_KIND_UNSUPPORTED,
          "The model's output kind \"" + kind
              + "\" is not supported (expected \"probabilities\", \"logits\" or \"embedding\")."
              + (kind.equals(SegmentationSpec.Kind.MASK.jsonName)
                  ? " A \"mask\" output goes with \"task\": \"segmentation\" (a damaged or edited"
                      + " manifest). " + rebuildHint
                  : ""));
    }
    if (dtype != null && !dtype.equals("float32")) {
      r.issue(
          Code.OUTPUT_DTYPE_UNSUPPORTED,
          "The model's output is " + dtype + "; the app reads float32 scores.");
    }

    int n = -1;
    Long shapeProduct = null;
    if (shape != null) {
      // every size at least 1, and a product an int can hold (the app gets a float[] of that length)
      long p = 1;
      for (Long d : shape) {
        if (d < 1 || d > Integer.MAX_VALUE / p) {
          p = -1;
          break;
        }
        p *= d;
      }
      if (p < 1 || shape.isEmpty()) {
        r.issue(
            Code.OUTPUT_NUM_CLASSES_INVALID,
            "The manifest's output.shape " + shape + " is not a list of positive sizes the app can"
                + " read (a damaged or edited manifest). Rebuild the model with edgepack.");
      } else {
        shapeProduct = p;
      }
    }
    if (numClasses != null) {
      if (numClasses < 1) {
        r.issue(Code.OUTPUT_NUM_CLASSES_INVALID, "The manifest's output." + sizeKey + " must be at least 1.");
      } else {
        n = (int) Math.min(numClasses, Integer.MAX_VALUE);
        if (shapeProduct != null && shapeProduct.longValue() != numClasses) {
          r.issue(
              Code.OUTPUT_NUM_CLASSES_INVALID,
              "The manifest's output.shape " + shape + " does not match output." + sizeKey + " " + numClasses + ".");
        }
      }
    } else if (shapeProduct != null && shapeProduct >= 1) {
      n = (int) Math.min(shapeProduct, Integer.MAX_VALUE);
    } else if (labelCount > 0) {
      n = labelCount;
    }
    return new OutputSpec(kind, activation, dtype, shape, n);
  }

  // ------------------------------------------------------------------ accessors

  public ManifestCheck check() {
    return check;
  }

  /** The format of the file the manifest was read from. */
  public ModelFormat getFormat() {
    return format;
  }

  /** executorch.version of a .pte manifest (the ExecuTorch that wrote it), or null. */
  public String getExecutorchVersion() {
    return executorchVersion;
  }

  /** The whole manifest as parsed (unknown keys included), read-only. */
  public Map<String, Object> getRaw() {
    return raw;
  }

  /** The schema number, or null when missing/invalid. */
  public Long getSchema() {
    return schema;
  }

  public String getEdgepackVersion() {
    return edgepackVersion;
  }

  public String getTorchVersion() {
    return torchVersion;
  }

  /** The task, or null when missing/unknown (then the manifest is incompatible). */
  public Task getTask() {
    return task;
  }

  /** Class names, possibly empty (then classes are "class N"). */
  public List<String> getLabels() {
    return labels;
  }

  /** The input spec, or null when missing (incompatible). */
  public InputSpec getInput() {
    return input;
  }

  /** The output spec, or null when missing (incompatible). */
  public OutputSpec getOutput() {
    return output;
  }

  /**
   * A segmentation model's output and preprocessing (task "segmentation" and a usable output),
   * else null.
   */
  public SegmentationSpec getSegmentation() {
    return segmentation;
  }

  /** Number of classes, -1 when unknown (see {@link OutputSpec#getNumClasses()}). */
  public int getNumClasses() {
    return output == null ? (labels.isEmpty() ? -1 : labels.size()) : output.getNumClasses();
  }

  /** The display name for class {@code index}: its label, or "class N". */
  public String labelFor(int index) {
    return LabelFormat.labelFor(labels, index);
  }

  public String getQuantizationMode() {
    return quantizationMode;
  }

  public String getOptimizerPath() {
    return optimizerPath;
  }

  public Long getBytecodeVersion() {
    return bytecodeVersion;
  }

  /** validation.passed, or null when absent. */
  public Boolean getValidationPassed() {
    return validationPassed;
  }

  public String getSourceName() {
    return sourceName;
  }

  public String getSourceArch() {
    return sourceArch;
  }

  /**
   * A one-line description for the UI, e.g. "resnet18 · 6 classes · multiclass · quantization none
   * · edgepack 0.1.0 · .pte (ExecuTorch 1.3.1)".
   */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    sb.append(sourceArch != null ? sourceArch : (sourceName != null ? sourceName : "model"));
    int n = getNumClasses();
    if (n > 0 && task == Task.EMBEDDING) {
      sb.append(" · ").append(n).append("-value embedding");
    } else if (n > 0) {
      sb.append(" · ").append(n).append(n == 1 ? " class" : " classes");
    }
    if (task != null) sb.append(" · ").append(task.jsonName);
    if (segmentation != null) {
      sb.append(segmentation.isMask()
          ? " (class mask)"
          : " (per-class maps, " + segmentation.getResizePolicy().jsonName + ")");
    }
    if (quantizationMode != null) sb.append(" · quantization ").append(quantizationMode);
    if (edgepackVersion != null) sb.append(" · edgepack ").append(edgepackVersion);
    sb.append(" · .").append(format.jsonName);
    if (executorchVersion != null) sb.append(" (ExecuTorch ").append(executorchVersion).append(')');
    return sb.toString();
  }

  // ------------------------------------------------------------------ lenient typed reads

  /** Typed reads that record a problem (when {@code code} is non-null) for a wrong type. */
  static final class Reader {
    final List<ManifestIssue> issues = new ArrayList<>();

    void issue(Code code, String message) {
      issues.add(new ManifestIssue(code, message));
    }

    /** Errors recorded so far (a reader of one section compares before and after). */
    int errorCount() {
      int n = 0;
      for (ManifestIssue i : issues) if (i.isError()) n++;
      return n;
    }

    private void typeError(Code code, String path, String expected, Object got) {
      if (code != null) {
        issue(code, "The manifest's \"" + path + "\" must be " + expected + ", got " + Json.typeName(got) + ".");
      }
    }

    /** A Long for JSON integers (and for doubles with an integral value), else null. */
    static Long asInteger(Object v) {
      if (v instanceof Long || v instanceof Integer) return ((Number) v).longValue();
      if (v instanceof Double) {
        double d = (Double) v;
        if (d == Math.rint(d) && Math.abs(d) < 9.0e15) return (long) d;
      }
      return null;
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> object(Map<String, Object> m, String key, Code code) {
      if (m == null) return null;
      Object v = m.get(key);
      if (v == null) return null;
      if (v instanceof Map) return (Map<String, Object>) v;
      typeError(code, key, "an object", v);
      return null;
    }

    String string(Map<String, Object> m, String key, String path, Code code) {
      if (m == null) return null;
      Object v = m.get(key);
      if (v == null) return null;
      if (v instanceof String) return (String) v;
      typeError(code, path, "a string", v);
      return null;
    }

    Long integer(Map<String, Object> m, String key, String path, Code code) {
      if (m == null) return null;
      Object v = m.get(key);
      if (v == null) return null;
      Long l = asInteger(v);
      if (l == null) typeError(code, path, "an integer", v);
      return l;
    }

    Boolean bool(Map<String, Object> m, String key, String path, Code code) {
      if (m == null) return null;
      Object v = m.get(key);
      if (v == null) return null;
      if (v instanceof Boolean) return (Boolean) v;
      typeError(code, path, "true or false", v);
      return null;
    }

    List<Long> integers(Map<String, Object> m, String key, String path, Code code) {
      if (m == null) return null;
      Object v = m.get(key);
      if (v == null) return null;
      if (!(v instanceof List)) {
        typeError(code, path, "an array of integers", v);
        return null;
      }
      List<Long> out = new ArrayList<>();
      for (Object item : (List<?>) v) {
        Long l = asInteger(item);
        if (l == null || l < 0) {
          typeError(code, path, "an array of non-negative integers", v);
          return null;
        }
        out.add(l);
      }
      return out;
    }
  }
}
