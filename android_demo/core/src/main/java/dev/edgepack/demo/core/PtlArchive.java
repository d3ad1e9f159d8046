package dev.edgepack.demo.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reads an extra file (such as {@code edgepack.json}) straight from a {@code .ptl}, which is a zip
 * archive with entries {@code <archive>/extra/<name>}. The app uses it to check the manifest
 * before handing the file to the native loader, so an incompatible file gets a clear message even
 * when the runtime itself would refuse it (and on devices where the native library won't load).
 */
public final class PtlArchive {
  /** Extra files larger than this are not read (the manifest is a few KB). */
  public static final int MAX_EXTRA_BYTES = 4 << 20;

  private PtlArchive() {}

  /**
   * The UTF-8 text of extra file {@code name}, or null when the archive has none.
   *
   * @throws IOException when the file is not a readable zip archive (not a .ptl at all)
   */
  public static String readExtraFile(File ptl, String name) throws IOException {
    try (ZipFile zip = new ZipFile(ptl)) {
      ZipEntry found = null;
      for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
        ZipEntry entry = e.nextElement();
        if (isExtraEntry(entry.getName(), name)) {
          found = entry;
          break;
        }
      }
      if (found == null) return null;
      if (found.getSize() > MAX_EXTRA_BYTES) {
        throw new IOException("extra file " + name + " is too large (" + found.getSize() + " bytes)");
      }
      try (InputStream in = zip.getInputStream(found)) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        int total = 0;
        while ((n = in.read(buf)) > 0) {
          total += n;
          if (total > MAX_EXTRA_BYTES) throw new IOException("extra file " + name + " is too large");
          out.write(buf, 0, n);
        }
        return new String(out.toByteArray(), StandardCharsets.UTF_8);
      }
    }
  }

  /** "extra/NAME" or "ARCHIVE/extra/NAME" (exactly one archive directory). */
  static boolean isExtraEntry(String entryName, String name) {
    String suffix = "extra/" + name;
    if (entryName.equals(suffix)) return true;
    if (!entryName.endsWith("/" + suffix)) return false;
    String prefix = entryName.substring(0, entryName.length() - suffix.length() - 1);
    return !prefix.isEmpty() && prefix.indexOf('/') < 0;
  }
}
