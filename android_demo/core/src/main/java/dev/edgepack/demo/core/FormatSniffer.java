package dev.edgepack.demo.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Tells the two model formats apart by their first bytes, before any native code sees the file:
 * a {@code .pte} (an ExecuTorch program, a FlatBuffer) has "ET" and two ASCII digits at byte 4
 * (pytorch/executorch docs/source/pte-file-format.md); a {@code .ptl} is a zip archive ("PK\3\4"
 * at byte 0). So a misnamed or damaged asset gets a clear message instead of a native error.
 */
public final class FormatSniffer {
  /** Bytes needed by {@link #sniff(byte[], int)}. */
  public static final int HEAD_BYTES = 8;

  private FormatSniffer() {}

  /** The format the first {@code length} bytes of {@code head} show, or null when neither. */
  public static ModelFormat sniff(byte[] head, int length) {
    if (head == null || length < 4) return null;
    if (head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return ModelFormat.PTL;
    if (length >= HEAD_BYTES
        && head[4] == 'E'
        && head[5] == 'T'
        && isDigit(head[6])
        && isDigit(head[7])) {
      return ModelFormat.PTE;
    }
    return null;
  }

  /** Reads the first bytes of {@code file} and sniffs them. */
  public static ModelFormat sniff(File file) throws IOException {
    byte[] head = new byte[HEAD_BYTES];
    int n = 0;
    try (InputStream in = new FileInputStream(file)) {
      while (n < head.length) {
        int r = in.read(head, n, head.length - n);
        if (r < 0) break;
        n += r;
      }
    }
    return sniff(head, n);
  }

  /**
   * Null when {@code file} looks like a file of {@code expected} format, else a message for the
   * user saying what it is instead and what to do.
   */
  public static String problem(File file, ModelFormat expected) {
    ModelFormat found;
    try {
      found = sniff(file);
    } catch (IOException e) {
      return "assets/" + expected.assetName() + " could not be read: " + e.getMessage();
    }
    return problem(found, expected);
  }

  /** As {@link #problem(File, ModelFormat)} for an already sniffed format (null: unknown). */
  public static String problem(ModelFormat found, ModelFormat expected) {
    if (found == expected) return null;
    String asset = "assets/" + expected.assetName();
    if (found == null) {
      return asset + " is not " + describe(expected) + " (its first bytes are neither an ExecuTorch"
          + " program header nor a zip archive): it may be damaged or not a model at all. Build it"
          + " with edgepack:\n  " + expected.buildCommand();
    }
    return asset + " is " + describe(found) + ", not " + describe(expected) + ". Save it as assets/"
        + found.assetName() + " instead, or build " + describe(expected) + " with edgepack:\n  "
        + expected.buildCommand();
  }

  private static String describe(ModelFormat f) {
    return f == ModelFormat.PTE
        ? "an ExecuTorch program (.pte)"
        : "a PyTorch Lite-interpreter file (.ptl, a zip archive)";
  }

  private static boolean isDigit(byte b) {
    return b >= '0' && b <= '9';
  }
}
