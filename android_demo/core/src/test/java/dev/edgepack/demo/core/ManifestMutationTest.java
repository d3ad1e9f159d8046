package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import dev.edgepack.demo.core.ManifestIssue.Code;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Collection;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;

/**
 * Mutated copies of the shared fixtures: what the app refuses, and what it tolerates. Runs once
 * with the .ptl fixture and once with the .pte fixture: the same checks apply to both formats.
 */
@RunWith(Parameterized.class)
public class ManifestMutationTest {

  @Parameterized.Parameters(name = "{0}")
  public static Collection<Object[]> formats() {
    return Arrays.asList(new Object[][] {{ModelFormat.PTL}, {ModelFormat.PTE}});
  }

  private final ModelFormat format;

  public ManifestMutationTest(ModelFormat format) {
    this.format = format;
  }

  private Map<String, Object> fixture() {
    return Fixtures.manifestMap(format);
  }

  private static Map<String, Object> input(Map<String, Object> m) {
    return Fixtures.child(m, "input");
  }

  private static Map<String, Object> output(Map<String, Object> m) {
    return Fixtures.child(m, "output");
  }

  private ManifestCheck check(Map<String, Object> m) {
    return Fixtures.reparse(m, format).check();
  }

  private Manifest reparse(Map<String, Object> m) {
    return Fixtures.reparse(m, format);
  }

  /** Issue codes of the unmodified fixture (normally none). */
  private List<Code> baselineCodes() {
    return codes(check(fixture()));
  }

  private static List<Code> codes(ManifestCheck c) {
    List<Code> out = new ArrayList<>();
    for (ManifestIssue i : c.getIssues()) out.add(i.getCode());
    return out;
  }

  private void assertRefused(Map<String, Object> m, Code code) {
    ManifestCheck c = check(m);
    assertFalse("expected refusal for " + code + ": " + c, c.isCompatible());
    assertTrue("expected " + code + " in " + c, c.has(code));
    assertTrue(c.userMessage().startsWith("This model can't be used"));
    try {
      Manifest.parseCompatible(Json.write(m), format);
      fail("parseCompatible accepted an incompatible manifest");
    } catch (ManifestException e) {
      assertNotNull(e.getCheck());
      assertEquals(c.userMessage(), e.getMessage());
    }
  }

  private static List<Object> labelsOf(Map<String, Object> m) {
    @SuppressWarnings("unchecked")
    List<Object> labels = (List<Object>) m.get("labels");
    return labels;
  }

  // ---------------------------------------------------------------- schema

  @Test
  public void newerSchemaRefusedWithClearMessageOnly() {
    Map<String, Object> m = fixture();
    m.put("schema", 2L);
    m.put("input", "a different structure in schema 2");
    ManifestCheck c = check(m);
    assertRefused(m, Code.SCHEMA_TOO_NEW);
    assertEquals("only the schema problem is reported", 1, c.getIssues().size());
    String msg = c.userMessage();
    assertTrue(msg, msg.contains("newer edgepack"));
    assertTrue(msg, msg.contains("schema 2"));
    assertTrue(msg, msg.contains("schema 1"));
  }

  @Test
  public void missingSchemaRefused() {
    Map<String, Object> m = fixture();
    m.remove("schema");
    assertRefused(m, Code.SCHEMA_MISSING);
  }

  @Test
  public void invalidSchemaRefused() {
    for (Object bad : Arrays.<Object>asList(0L, -1L, "1", 1.5, true)) {
      Map<String, Object> m = fixture();
      m.put("schema", bad);
      assertRefused(m, Code.SCHEMA_INVALID);
    }
  }

  // ---------------------------------------------------------------- labels

  @Test
  public void labelCountMismatchRefused() {
    Map<String, Object> m = fixture();
    List<Object> labels = labelsOf(m);
    labels.remove(labels.size() - 1);
    assertRefused(m, Code.LABELS_COUNT_MISMATCH);

    Map<String, Object> more = fixture();
    labelsOf(more).add("extra");
    assertRefused(more, Code.LABELS_COUNT_MISMATCH);
  }

  @Test
  public void numClassesChangedRefused() {
    Map<String, Object> m = fixture();
    long n = (Long) output(m).get("num_classes");
    output(m).put("num_classes", n + 1);
    output(m).put("shape", Arrays.asList(n + 1));
    assertRefused(m, Code.LABELS_COUNT_MISMATCH);
  }

  @Test
  public void labelsOfWrongTypeRefused() {
    Map<String, Object> m = fixture();
    m.put("labels", "circle,square");
    assertRefused(m, Code.LABELS_INVALID);

    Map<String, Object> m2 = fixture();
    labelsOf(m2).set(0, 7L);
    assertRefused(m2, Code.LABELS_INVALID);
  }

  @Test
  public void absentOrEmptyLabelsShowClassN() {
    Map<String, Object> removed = fixture();
    removed.remove("labels");
    Map<String, Object> empty = fixture();
    empty.put("labels", new ArrayList<Object>());
    Map<String, Object> nul = fixture();
    nul.put("labels", null);
    for (Map<String, Object> m : Arrays.asList(removed, empty, nul)) {
      Manifest parsed = reparse(m);
      ManifestCheck c = parsed.check();
      assertTrue(c.toString(), c.isCompatible());
      assertTrue(c.has(Code.LABELS_MISSING));
      assertTrue(parsed.getLabels().isEmpty());
      assertEquals("class 0", parsed.labelFor(0));
      assertEquals("class 3", parsed.labelFor(3));
      float[] probs = new float[parsed.getNumClasses()];
      probs[2] = 0.9f;
      assertEquals("class 2", TopK.of(probs, 5, parsed.getLabels()).get(0).getLabel());
      assertTrue(c.userMessage().startsWith("Note:"));
    }
  }

  // ---------------------------------------------------------------- input

  @Test
  public void floatTensorInputRefusedWithRebuildAdvice() {
    Map<String, Object> m = fixture();
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("kind", "tensor");
    in.put("dtype", "float32");
    in.put("layout", "NCHW");
    in.put("shape", Arrays.asList(1L, 3L, 224L, 224L));
    m.put("input", in);
    assertRefused(m, Code.INPUT_FLOAT_TENSOR);
    Manifest parsed = reparse(m);
    ManifestCheck c = parsed.check();
    assertEquals(1, c.getErrors().size());
    String msg = c.userMessage();
    assertTrue(msg, msg.contains("--input float"));
    assertTrue(msg, msg.contains("image-input build"));
    assertTrue(msg, msg.contains("[1, 3, 224, 224]"));
    assertFalse(parsed.getInput().isImage());
    assertEquals(Arrays.asList(1L, 3L, 224L, 224L), parsed.getInput().getShape());
  }

  @Test
  public void unknownInputKindRefused() {
    Map<String, Object> m = fixture();
    input(m).put("kind", "audio");
    assertRefused(m, Code.INPUT_KIND_UNSUPPORTED);
    assertTrue(check(m).userMessage().contains("\"audio\""));
  }

  @Test
  public void missingInputRefused() {
    Map<String, Object> m = fixture();
    m.remove("input");
    assertRefused(m, Code.INPUT_MISSING);

    Map<String, Object> m2 = fixture();
    m2.put("input", Arrays.asList(1L));
    assertRefused(m2, Code.INPUT_MISSING);

    Map<String, Object> m3 = fixture();
    input(m3).remove("kind");
    assertRefused(m3, Code.INPUT_KIND_UNSUPPORTED);
  }

  @Test
  public void rgbOnlyInputRefusedBecauseAppSendsRgba() {
    Map<String, Object> m = fixture();
    input(m).put("channels", Arrays.asList(3L));
    assertRefused(m, Code.INPUT_CHANNELS_UNSUPPORTED);
    assertTrue(check(m).userMessage().contains("RGBA"));
  }

  @Test
  public void otherInputTypeProblemsRefused() {
    Map<String, Object> dtype = fixture();
    input(dtype).put("dtype", "float32");
    assertRefused(dtype, Code.INPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> layout = fixture();
    input(layout).put("layout", "CHW");
    assertRefused(layout, Code.INPUT_LAYOUT_UNSUPPORTED);

    Map<String, Object> color = fixture();
    input(color).put("color", "BGR");
    assertRefused(color, Code.INPUT_COLOR_UNSUPPORTED);

    Map<String, Object> sides = fixture();
    input(sides).put("min_side", ((Number) input(sides).get("max_side")).longValue() + 1);
    assertRefused(sides, Code.INPUT_SIDES_INVALID);

    Map<String, Object> channelsType = fixture();
    input(channelsType).put("channels", "RGBA");
    assertRefused(channelsType, Code.INPUT_CHANNELS_UNSUPPORTED);
  }

  @Test
  public void inputDefaultsWhenOptionalKeysAbsent() {
    Map<String, Object> m = fixture();
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("kind", "image");
    if (format == ModelFormat.PTE) in.put("max_side", 1920L); // required for a .pte
    m.put("input", in);
    Manifest parsed = reparse(m);
    assertTrue(parsed.check().toString(), parsed.check().isCompatible());
    InputSpec spec = parsed.getInput();
    assertEquals("uint8", spec.getDtype());
    assertEquals("HWC", spec.getLayout());
    assertEquals(Arrays.asList(3, 4), spec.getChannels());
    assertEquals("RGB", spec.getColor());
    assertEquals(1, spec.getMinSide());
    assertEquals(format == ModelFormat.PTE ? 1920 : Integer.MAX_VALUE, spec.getMaxSide());
    assertFalse(spec.isDownscaleOk());
  }

  @Test
  public void nullInputKindRefused() {
    // like output.kind: a null kind is no kind
    Map<String, Object> m = fixture();
    input(m).put("kind", null);
    assertRefused(m, Code.INPUT_KIND_UNSUPPORTED);
    assertTrue(check(m).userMessage(), check(m).userMessage().contains("no \"kind\""));

    Map<String, Object> out = fixture();
    output(out).put("kind", null);
    assertRefused(out, Code.OUTPUT_KIND_UNSUPPORTED);
  }

  @Test
  public void inputKindOfWrongTypeRefused() {
    for (Object bad : Arrays.<Object>asList(1L, true, Arrays.asList("image"), new LinkedHashMap<String, Object>())) {
      Map<String, Object> m = fixture();
      input(m).put("kind", bad);
      assertRefused(m, Code.INPUT_KIND_UNSUPPORTED);
    }
  }

  @Test
  public void floatKindRefusedLikeTensorInput() {
    Map<String, Object> m = fixture();
    input(m).put("kind", "float");
    assertRefused(m, Code.INPUT_FLOAT_TENSOR);
    assertTrue(check(m).userMessage().contains("--input float"));
  }

  @Test
  public void rebuildAdviceNamesTheFilesFormat() {
    Map<String, Object> m = fixture();
    input(m).put("dtype", "float32");
    String msg = check(m).userMessage();
    assertTrue(msg, msg.contains(format.buildCommand()));
    assertTrue(msg, msg.contains("assets/model." + format.jsonName));
  }

  @Test
  public void formatKeyChecked() {
    Map<String, Object> unknown = fixture();
    unknown.put("format", "onnx");
    assertRefused(unknown, Code.FORMAT_UNSUPPORTED);

    Map<String, Object> wrongType = fixture();
    wrongType.put("format", 1L);
    assertRefused(wrongType, Code.FORMAT_UNSUPPORTED);

    Map<String, Object> upper = fixture();
    upper.put("format", format.jsonName.toUpperCase(java.util.Locale.ROOT));
    assertRefused(upper, Code.FORMAT_UNSUPPORTED);

    Map<String, Object> other = fixture();
    other.put("format", format == ModelFormat.PTE ? "ptl" : "pte");
    assertRefused(other, Code.FORMAT_MISMATCH);

    Map<String, Object> own = fixture();
    own.put("format", format.jsonName);
    assertEquals(baselineCodes(), codes(check(own)));
  }

  @Test
  public void absentFormatMeansPtl() {
    Map<String, Object> m = fixture();
    m.remove("format");
    if (format == ModelFormat.PTL) {
      assertEquals(baselineCodes(), codes(check(m))); // older .ptl files have no "format"
    } else {
      assertRefused(m, Code.FORMAT_MISMATCH);
    }
  }

  // ---------------------------------------------------------------- task / output

  @Test
  public void unknownOrMissingTaskRefused() {
    Map<String, Object> m = fixture();
    m.put("task", "detection");
    assertRefused(m, Code.TASK_UNSUPPORTED);

    Map<String, Object> m2 = fixture();
    m2.remove("task");
    assertRefused(m2, Code.TASK_MISSING);
  }

  @Test
  public void outputProblemsRefused() {
    Map<String, Object> kind = fixture();
    output(kind).put("kind", "embedding");
    assertRefused(kind, Code.OUTPUT_KIND_UNSUPPORTED);

    Map<String, Object> dtype = fixture();
    output(dtype).put("dtype", "float16");
    assertRefused(dtype, Code.OUTPUT_DTYPE_UNSUPPORTED);

    Map<String, Object> shape = fixture();
    output(shape).put("shape", Arrays.asList(1000L));
    assertRefused(shape, Code.OUTPUT_NUM_CLASSES_INVALID);

    Map<String, Object> missing = fixture();
    missing.remove("output");
    assertRefused(missing, Code.OUTPUT_MISSING);
  }

  @Test
  public void outputShapeOfZeroOrHugeSizesRefused() {
    // a size of 0 (with no num_classes to compare with), a 0 inside, and a product no array holds
    for (List<Long> bad : Arrays.<List<Long>>asList(
        Arrays.asList(0L), Arrays.asList(6L, 0L), Arrays.asList(1L << 40), Arrays.asList(1L << 20, 1L << 20),
        new ArrayList<Long>())) {
      Map<String, Object> m = fixture();
      output(m).remove("num_classes");
      output(m).put("shape", new ArrayList<Object>(bad));
      assertRefused(m, Code.OUTPUT_NUM_CLASSES_INVALID);
    }
  }

  @Test
  public void channelCountsOtherThanThreeOrFourRefused() {
    Map<String, Object> m = fixture();
    input(m).put("channels", new ArrayList<Object>(Arrays.asList(4L, 7L)));
    assertRefused(m, Code.INPUT_CHANNELS_UNSUPPORTED);
  }

  @Test
  public void logitsOutputAcceptedAndAppAppliesActivation() {
    Map<String, Object> m = fixture();
    output(m).put("kind", "logits");
    output(m).remove("activation");
    Manifest parsed = reparse(m);
    ManifestCheck c = parsed.check();
    assertTrue(c.toString(), c.isCompatible());
    assertTrue(c.has(Code.OUTPUT_LOGITS));
    assertTrue(c.userMessage(), c.userMessage().contains("softmax"));
    assertTrue(Postprocess.appliesActivation(parsed));

    m.put("task", "multilabel");
    Manifest ml = reparse(m);
    assertTrue(ml.check().userMessage(), ml.check().userMessage().contains("sigmoid"));
  }

  @Test
  public void activationTaskMismatchIsOnlyAWarning() {
    Map<String, Object> m = fixture();
    m.put("task", "multilabel");
    ManifestCheck c = check(m);
    assertTrue(c.isCompatible());
    assertTrue(c.has(Code.ACTIVATION_MISMATCH));
  }

  @Test
  public void failedValidationIsAWarning() {
    Map<String, Object> m = fixture();
    Fixtures.child(m, "validation").put("passed", false);
    ManifestCheck c = check(m);
    assertTrue(c.isCompatible());
    assertTrue(c.has(Code.VALIDATION_NOT_PASSED));
  }

  @Test
  public void unsupportedBytecodeRefused() {
    assumeTrue("bytecode_version is a .ptl property", format == ModelFormat.PTL);
    Map<String, Object> m = fixture();
    m.put("bytecode_version", 10L);
    assertRefused(m, Code.BYTECODE_UNSUPPORTED);
    assertTrue(check(m).userMessage().contains("--bytecode-version"));
  }

  // ---------------------------------------------------------------- forward compatibility

  @Test
  public void unknownKeysTolerated() {
    Map<String, Object> m = fixture();
    m.put("future_top_level", Arrays.asList(1L, 2L));
    input(m).put("exif_orientation", "respected");
    output(m).put("calibration", new LinkedHashMap<String, Object>());
    Fixtures.child(m, "source").put("extra", null);
    Manifest parsed = reparse(m);
    assertEquals(parsed.check().toString(), baselineCodes(), codes(parsed.check()));
    assertTrue(parsed.getRaw().containsKey("future_top_level"));
  }

  @Test
  public void missingOptionalSectionsTolerated() {
    Map<String, Object> m = fixture();
    for (String key :
        Arrays.asList(
            "edgepack_version", "torch_version", "source", "preprocess", "quantization",
            "optimizer", "bytecode_version", "validation", "options")) {
      m.remove(key);
    }
    Manifest parsed = reparse(m);
    List<Code> expected = baselineCodes();
    expected.remove(Code.VALIDATION_NOT_PASSED); // the validation section is gone
    assertEquals(parsed.check().toString(), expected, codes(parsed.check()));
    assertNull(parsed.getBytecodeVersion());
    assertNull(parsed.getValidationPassed());
    assertNotNull(parsed.describe());
  }

  @Test
  public void reportsAllProblemsAtOnce() {
    Map<String, Object> m = fixture();
    m.put("task", "detection");
    input(m).put("channels", Arrays.asList(3L));
    output(m).put("dtype", "int8");
    ManifestCheck c = check(m);
    assertEquals(c.toString(), 3, c.getErrors().size());
    assertEquals(4, c.userMessage().split("\n").length);
  }

  // ---------------------------------------------------------------- not a manifest at all

  @Test
  public void emptyOrMalformedManifestThrows() {
    for (String text : Arrays.asList(null, "", "   ", "{\"schema\": 1,", "[1]", "not json")) {
      try {
        Manifest.parse(text, format);
        fail("accepted " + text);
      } catch (ManifestException e) {
        String where = format == ModelFormat.PTE ? "edgepack_manifest" : "edgepack.json";
        assertTrue(e.getMessage(), e.getMessage().contains(where));
        assertNull(e.getCheck());
      }
    }
  }
}
