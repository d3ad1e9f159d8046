package dev.edgepack.demo.core;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Checks a model file against the digests its manifest records ({@code integrity}, written by
 * edgepack; see {@code edgepack/integrity.py} and {@code docs/pte.md}), before the file is handed
 * to a native loader: the zip reader of the lite interpreter ignores CRCs, so a damaged weight
 * otherwise gives silently different answers.
 *
 * <ul>
 *   <li>{@code .ptl}, scheme {@value #PTL_SCHEME}: {@code records} maps each zip record's name
 *       without the archive folder ({@code data/0}, {@code bytecode.pkl}, ...) to its sha256. Not
 *       covered: {@code extra/edgepack.json} (the manifest) and {@code .data/serialization_id}.
 *       The file's other records must be exactly the recorded ones.
 *   <li>{@code .pte}, scheme {@value #PTE_SCHEME}: {@code sha256} of the file's bytes with the
 *       manifest string (the padded text {@code execute("edgepack_manifest")} returns, which occurs
 *       once in the file) left out.
 * </ul>
 *
 * A manifest without {@code integrity} (files from older edgepack releases) is reported as
 * not verified rather than refused.
 */
public final class Integrity {
  public static final String PTL_SCHEME = "ptl-records-v1";
  public static final String PTE_SCHEME = "pte-masked-manifest-v1";
  public static final String ALGORITHM = "sha256";
  static final String MANIFEST_RECORD = "extra/" + Manifest.EXTRA_FILE_NAME;
  static final String SERIALIZATION_ID = ".data/serialization_id";

  /** What a check found: VERIFIED, or NOT_RECORDED (old file, nothing to check). */
  public enum Status {
    VERIFIED,
    NOT_RECORDED
  }

  /** The file's bytes differ from what its manifest records. The message is meant for the user. */
  public static final class DamagedFileException extends ManifestException {
    private static final long serialVersionUID = 1L;

    DamagedFileException(String detail) {
      super("The model file is damaged: " + detail + ". Copy it again or rebuild it with edgepack.");
    }
  }

  private Integrity() {}

  /** Verifies a {@code .ptl} against the manifest text read from it ({@link PtlArchive}). */
  public static Status verifyPtl(File ptl, String manifestText) throws ManifestException {
    Map<String, Object> section = section(manifestText, PTL_SCHEME);
    if (section == null) return Status.NOT_RECORDED;
    Object recordsValue = section.get("records");
    if (!(recordsValue instanceof Map) || ((Map<?, ?>) recordsValue).isEmpty()) {
      throw new DamagedFileException("its manifest's integrity.records is not a map of digests");
    }
    Map<String, String> expected = new HashMap<>();
    for (Map.Entry<?, ?> e : ((Map<?, ?>) recordsValue).entrySet()) {
      if (!(e.getValue() instanceof String)) {
        throw new DamagedFileException("its manifest's digest of " + e.getKey() + " is not a string");
      }
      expected.put(String.valueOf(e.getKey()), ((String) e.getValue()).toLowerCase(java.util.Locale.ROOT));
    }
    Map<String, String> actual = new HashMap<>();
    try (ZipFile zip = new ZipFile(ptl)) {
      for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
        ZipEntry entry = en.nextElement();
        String name = recordName(entry.getName());
        if (name.equals(MANIFEST_RECORD) || name.equals(SERIALIZATION_ID) || entry.isDirectory()) continue;
        if (actual.containsKey(name)) throw new DamagedFileException("record " + name + " appears twice");
        try (InputStream in = zip.getInputStream(entry)) {
          actual.put(name, Hashing.sha256Hex(in));
        } catch (ZipException e) { // java.util.zip checks the stored CRC
          throw new DamagedFileException("record " + name + " does not match its CRC");
        }
      }
    } catch (DamagedFileException e) {
      throw e;
    } catch (IOException e) {
      throw new DamagedFileException("it is not a readable archive (" + e.getMessage() + ")");
    }
    List<String> problems = new ArrayList<>();
    for (String name : new TreeSet<>(expected.keySet())) {
      if (!actual.containsKey(name)) problems.add("record " + name + " is missing");
      else if (!actual.get(name).equals(expected.get(name))) problems.add("record " + name + " does not match its sha256");
    }
    for (String name : new TreeSet<>(actual.keySet())) {
      if (!expected.containsKey(name)) problems.add("record " + name + " is not one the file was built with");
    }
    if (!problems.isEmpty()) {
      throw new DamagedFileException(problems.get(0)
          + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more)" : ""));
    }
    return Status.VERIFIED;
  }

  /**
   * Verifies a {@code .pte} against the manifest text its {@code edgepack_manifest} method returned
   * (call this after {@code Module.load} and that method, before loading {@code forward}).
   */
  public static Status verifyPte(File pte, String manifestText) throws ManifestException {
    Map<String, Object> section = section(manifestText, PTE_SCHEME);
    if (section == null) return Status.NOT_RECORDED;
    if (!(section.get("sha256") instanceof String)) {
      throw new DamagedFileException("its manifest's integrity.sha256 is not a digest");
    }
    byte[] data;
    try {
      data = Files.readAllBytes(pte.toPath());
    } catch (IOException e) {
      throw new ManifestException("Cannot read the model file: " + e.getMessage(), e);
    }
    String actual = maskedDigest(data, manifestText.getBytes(StandardCharsets.UTF_8));
    if (actual == null) throw new DamagedFileException("its manifest does not occur exactly once in the program");
    if (!actual.equals(((String) section.get("sha256")).toLowerCase(java.util.Locale.ROOT))) {
      throw new DamagedFileException("the program's bytes do not match the sha256 in its manifest");
    }
    return Status.VERIFIED;
  }

  /** sha256 of {@code data} without the one occurrence of {@code text}; null when not exactly once. */
  static String maskedDigest(byte[] data, byte[] text) {
    int start = indexOf(data, text, 0);
    if (start < 0 || text.length == 0 || indexOf(data, text, start + 1) >= 0) return null;
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    md.update(data, 0, start);
    md.update(data, start + text.length, data.length - start - text.length);
    return Hashing.hex(md.digest());
  }

  static int indexOf(byte[] data, byte[] needle, int from) {
    if (needle.length == 0) return -1;
    outer:
    for (int i = Math.max(0, from); i <= data.length - needle.length; i++) {
      if (data[i] != needle[0]) continue;
      for (int j = 1; j < needle.length; j++) {
        if (data[i + j] != needle[j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  /** "archive/data/0" -> "data/0". */
  static String recordName(String entryName) {
    int slash = entryName.indexOf('/');
    return slash < 0 ? entryName : entryName.substring(slash + 1);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> section(String manifestText, String scheme) throws ManifestException {
    Map<String, Object> manifest;
    try {
      manifest = Json.parseObject(manifestText);
    } catch (RuntimeException e) {
      throw new ManifestException("The model's manifest is not valid JSON: " + e.getMessage(), e);
    }
    Object value = manifest.get("integrity");
    if (value == null) return null;
    if (!(value instanceof Map)) throw new DamagedFileException("its manifest's integrity section is not an object");
    Map<String, Object> section = (Map<String, Object>) value;
    if (!ALGORITHM.equals(section.get("algorithm")) || !scheme.equals(section.get("scheme"))) {
      throw new DamagedFileException("its manifest names integrity scheme " + section.get("scheme")
          + "/" + section.get("algorithm") + ", expected " + scheme + "/" + ALGORITHM);
    }
    return Collections.unmodifiableMap(section);
  }
}
