package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * How the app finds the manifest inside a {@code .pte}: edgepack stores it as an ExecuTorch
 * constant method named {@value Manifest#PTE_METHOD_NAME} that takes no inputs and returns one
 * string, the manifest's JSON text. The app calls {@code module.execute("edgepack_manifest")} and
 * reads the string with {@code EValue.toStr()}. This class holds the checks around that call, so
 * they run on any JVM: the program must have the method (and {@code forward}), and the method must
 * return exactly one string.
 *
 * <p>The app converts the returned {@code EValue}s with {@link #value(boolean, String, String)}:
 * strings as their text, anything else by its type name.
 */
public final class PteManifest {
  /** The method that runs the model. */
  public static final String FORWARD = "forward";
  /** Manifests larger than this are refused (a real one is a few KB). */
  public static final int MAX_CHARS = 4 << 20;

  private PteManifest() {}

  /** One value a method returned: a string, or something else described by its type. */
  public static final class Value {
    final String text;
    final String typeName;

    private Value(String text, String typeName) {
      this.text = text;
      this.typeName = typeName;
    }

    @Override
    public String toString() {
      return text != null ? "String" : typeName;
    }
  }

  /**
   * @param isString the EValue's {@code isString()}
   * @param text its {@code toStr()} when it is a string, else ignored
   * @param typeName a name for its type when it is not ("Tensor", "Int", ...)
   */
  public static Value value(boolean isString, String text, String typeName) {
    return isString ? new Value(text == null ? "" : text, null) : new Value(null, typeName);
  }

  /**
   * Null when the program's methods include {@value Manifest#PTE_METHOD_NAME} and {@code
   * forward}, else a message for the user.
   */
  public static String methodsProblem(String[] methodNames) {
    List<String> names =
        methodNames == null ? Collections.<String>emptyList() : Arrays.asList(methodNames);
    if (!names.contains(Manifest.PTE_METHOD_NAME)) {
      return "This ExecuTorch program has no " + Manifest.PTE_METHOD_NAME + " method, so it was not"
          + " built by edgepack (or by a version without .pte support); its methods are "
          + names + ". Build one with:\n  " + ModelFormat.PTE.buildCommand();
    }
    if (!names.contains(FORWARD)) {
      return "This ExecuTorch program has no forward method (its methods are " + names
          + "); rebuild it with edgepack:\n  " + ModelFormat.PTE.buildCommand();
    }
    return null;
  }

  /**
   * The manifest text from what {@code execute("edgepack_manifest")} returned.
   *
   * @throws ManifestException when it is not exactly one string
   */
  public static String text(List<Value> outputs) throws ManifestException {
    if (outputs == null || outputs.isEmpty()) {
      throw new ManifestException(
          "The program's " + Manifest.PTE_METHOD_NAME + " method returned nothing; expected the"
              + " manifest as one string. Rebuild the model with the current edgepack.");
    }
    if (outputs.size() != 1 || outputs.get(0).text == null) {
      List<String> types = new ArrayList<>();
      for (Value v : outputs) types.add(v.toString());
      throw new ManifestException(
          "The program's " + Manifest.PTE_METHOD_NAME + " method returned " + types
              + "; expected the manifest as one string. Rebuild the model with the current"
              + " edgepack.");
    }
    String text = outputs.get(0).text;
    if (text.length() > MAX_CHARS) {
      throw new ManifestException(
          "The program's " + Manifest.PTE_METHOD_NAME + " manifest is implausibly large ("
              + text.length() + " characters); refusing it.");
    }
    return text;
  }
}
