package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class FormatSnifferTest {
  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  /** The first bytes of an ExecuTorch program: root offset, "ET12", extended header "eh00". */
  private static byte[] pteHead() {
    return new byte[] {0x38, 0, 0, 0, 'E', 'T', '1', '2', 'e', 'h', '0', '0', 0x28, 0, 0, 0};
  }

  private File write(String name, byte[] data) throws IOException {
    File f = tmp.newFile(name);
    try (FileOutputStream out = new FileOutputStream(f)) {
      out.write(data);
    }
    return f;
  }

  private File zip(String name) throws IOException {
    File f = tmp.newFile(name);
    try (ZipOutputStream zip = new ZipOutputStream(new FileOutputStream(f))) {
      zip.putNextEntry(new ZipEntry("archive/version"));
      zip.write("8\n".getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    }
    return f;
  }

  @Test
  public void recognisesBothFormats() throws Exception {
    assertEquals(ModelFormat.PTE, FormatSniffer.sniff(pteHead(), 8));
    assertEquals(ModelFormat.PTE, FormatSniffer.sniff(write("a.pte", pteHead())));
    assertEquals(ModelFormat.PTL, FormatSniffer.sniff(zip("a.ptl")));
    assertNull(FormatSniffer.sniff(write("b", "{\"schema\": 1}".getBytes(StandardCharsets.UTF_8))));
    assertNull(FormatSniffer.sniff(write("c", new byte[] {0, 0, 0, 0, 'E', 'T', 'x', '2'})));
    assertNull(FormatSniffer.sniff(write("empty", new byte[0])));
    assertNull(FormatSniffer.sniff(pteHead(), 6)); // too short to tell
  }

  @Test
  public void problemsSayWhatToDo() throws Exception {
    assertNull(FormatSniffer.problem(write("ok.pte", pteHead()), ModelFormat.PTE));
    assertNull(FormatSniffer.problem(zip("ok.ptl"), ModelFormat.PTL));

    String swapped = FormatSniffer.problem(zip("model.pte"), ModelFormat.PTE);
    assertTrue(swapped, swapped.startsWith("assets/model.pte is a PyTorch Lite-interpreter file"));
    assertTrue(swapped, swapped.contains("Save it as assets/model.ptl"));
    assertTrue(swapped, swapped.contains("--format pte"));

    String other = FormatSniffer.problem(write("model.ptl", pteHead()), ModelFormat.PTL);
    assertTrue(other, other.contains("is an ExecuTorch program (.pte)"));

    String junk = FormatSniffer.problem(write("junk.pte", "hello world".getBytes(StandardCharsets.UTF_8)), ModelFormat.PTE);
    assertTrue(junk, junk.contains("damaged or not a model"));

    String missing = FormatSniffer.problem(new File(tmp.getRoot(), "nope.pte"), ModelFormat.PTE);
    assertTrue(missing, missing.contains("could not be read"));
  }
}
