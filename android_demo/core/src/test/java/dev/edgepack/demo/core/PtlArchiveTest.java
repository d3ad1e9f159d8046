package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class PtlArchiveTest {
  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  /** A zip laid out like torch's lite-interpreter files (stored, i.e. uncompressed, entries). */
  private File fakePtl(String archive, String manifest) throws IOException {
    File f = tmp.newFile(archive + ".ptl");
    try (ZipOutputStream zip = new ZipOutputStream(new FileOutputStream(f))) {
      put(zip, archive + "/data.pkl", new byte[] {(byte) 0x80, 2, '.'});
      put(zip, archive + "/bytecode.pkl", new byte[] {(byte) 0x80, 2, '.'});
      put(zip, archive + "/extra/other.json", "{}".getBytes(StandardCharsets.UTF_8));
      if (manifest != null) {
        put(zip, archive + "/extra/edgepack.json", manifest.getBytes(StandardCharsets.UTF_8));
      }
      put(zip, archive + "/version", "8\n".getBytes(StandardCharsets.UTF_8));
    }
    return f;
  }

  private static void put(ZipOutputStream zip, String name, byte[] data) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setCrc(crc.getValue());
    zip.putNextEntry(e);
    zip.write(data);
    zip.closeEntry();
  }

  @Test
  public void readsManifestFromArchive() throws Exception {
    String text = Fixtures.manifestText();
    File f = fakePtl("model", text);
    String read = PtlArchive.readExtraFile(f, Manifest.EXTRA_FILE_NAME);
    assertEquals(text, read);
    assertTrue(Manifest.parseCompatible(read).check().isCompatible());
  }

  @Test
  public void missingManifestIsNull() throws Exception {
    assertNull(PtlArchive.readExtraFile(fakePtl("shapes", null), Manifest.EXTRA_FILE_NAME));
  }

  @Test(expected = IOException.class)
  public void notAZipThrows() throws Exception {
    File f = tmp.newFile("junk.ptl");
    Files.write(f.toPath(), "this is not a model".getBytes(StandardCharsets.UTF_8));
    PtlArchive.readExtraFile(f, Manifest.EXTRA_FILE_NAME);
  }

  @Test
  public void entryNameMatching() {
    assertTrue(PtlArchive.isExtraEntry("model/extra/edgepack.json", "edgepack.json"));
    assertTrue(PtlArchive.isExtraEntry("extra/edgepack.json", "edgepack.json"));
    assertFalse(PtlArchive.isExtraEntry("model/extra/edgepack.json.bak", "edgepack.json"));
    assertFalse(PtlArchive.isExtraEntry("a/b/extra/edgepack.json", "edgepack.json"));
    assertFalse(PtlArchive.isExtraEntry("model/data/extra_edgepack.json", "edgepack.json"));
    assertFalse(PtlArchive.isExtraEntry("/extra/edgepack.json", "edgepack.json"));
  }
}
