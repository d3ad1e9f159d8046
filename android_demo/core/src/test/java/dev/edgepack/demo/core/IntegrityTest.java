package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The app verifies the same digests as edgepack's Python side, on small real files written by
 * {@code scripts/make_integrity_fixtures.py} through the build's own digest code: {@code tiny.ptl}
 * and {@code tiny.pte} verify; their {@code tiny_tampered} copies (one weight byte flipped, zip
 * CRCs fixed up so only the digests can tell) are refused.
 */
public class IntegrityTest {
  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  private static File fixture(String name) {
    File f = new File(Fixtures.demoDir(), "core/src/test/resources/integrity/" + name);
    if (!f.isFile()) fail("missing fixture " + f + "; run scripts/make_integrity_fixtures.py");
    return f;
  }

  private static String ptlManifest(File f) throws Exception {
    return PtlArchive.readExtraFile(f, Manifest.EXTRA_FILE_NAME);
  }

  private static void assertDamaged(String expectedPart, ThrowingRunnable r) {
    try {
      r.run();
      fail("expected the file to be refused as damaged");
    } catch (Integrity.DamagedFileException e) {
      assertTrue(e.getMessage(), e.getMessage().startsWith("The model file is damaged: "));
      assertTrue(e.getMessage(), e.getMessage().contains(expectedPart));
    } catch (Exception e) {
      throw new AssertionError("unexpected " + e, e);
    }
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  @Test
  public void intactPtlVerifies() throws Exception {
    File f = fixture("tiny.ptl");
    assertEquals(Integrity.Status.VERIFIED, Integrity.verifyPtl(f, ptlManifest(f)));
  }

  @Test
  public void tamperedPtlFixtureIsRefused() throws Exception {
    File f = fixture("tiny_tampered.ptl");
    String manifest = ptlManifest(f);
    assertDamaged("record data/0 does not match its sha256", () -> Integrity.verifyPtl(f, manifest));
  }

  @Test
  public void everyByteOfEveryRecordIsCovered() throws Exception {
    // Flip each byte of the stored records' data, one at a time: every flip is refused, either by
    // the zip CRC (java.util.zip checks it) or by the digests.
    File intact = fixture("tiny.ptl");
    byte[] data = Files.readAllBytes(intact.toPath());
    String manifest = ptlManifest(intact);
    byte[] weights = {0, 0, 0, 0x3f}; // 0.5f, the first weight, little-endian
    int at = Integrity.indexOf(data, weights, 0);
    assertTrue("weight bytes not found", at >= 0);
    for (int i = at; i < at + 24; i++) {
      byte[] copy = data.clone();
      copy[i] ^= 0x10;
      File f = tmp.newFile("flip" + i + ".ptl");
      Files.write(f.toPath(), copy);
      assertDamaged("record data/", () -> Integrity.verifyPtl(f, manifest));
    }
  }

  @Test
  public void changedRecordSetsAreRefused() throws Exception {
    File f = fixture("tiny.ptl");
    Map<String, Object> m = Json.parseObject(ptlManifest(f));
    @SuppressWarnings("unchecked")
    Map<String, Object> records = (Map<String, Object>) ((Map<String, Object>) m.get("integrity")).get("records");
    records.put("data/99", "00");
    String more = Json.write(m);
    assertDamaged("record data/99 is missing", () -> Integrity.verifyPtl(f, more));
    records.remove("data/99");
    records.remove("bytecode.pkl");
    String fewer = Json.write(m);
    assertDamaged("record bytecode.pkl is not one the file was built with", () -> Integrity.verifyPtl(f, fewer));
  }

  @Test
  public void manifestWithoutDigestsIsNotVerified() throws Exception {
    File f = fixture("tiny.ptl");
    assertEquals(Integrity.Status.NOT_RECORDED, Integrity.verifyPtl(f, "{\"schema\": 1}"));
    assertEquals(Integrity.Status.NOT_RECORDED, Integrity.verifyPte(f, "{\"schema\": 1}"));
  }

  @Test
  public void intactPteVerifiesAndTamperedIsRefused() throws Exception {
    String manifest = new String(Files.readAllBytes(fixture("manifest.pte.json").toPath()), StandardCharsets.UTF_8);
    assertEquals(Integrity.Status.VERIFIED, Integrity.verifyPte(fixture("tiny.pte"), manifest));
    assertDamaged("do not match the sha256", () -> Integrity.verifyPte(fixture("tiny_tampered.pte"), manifest));
    // A manifest text that is not in the file at all (another file's) cannot vouch for it.
    String other = manifest.substring(0, manifest.length() - 1) + "\n"; // same JSON, other bytes
    assertDamaged("does not occur exactly once", () -> Integrity.verifyPte(fixture("tiny.pte"), other));
  }

  @Test
  public void maskedDigestMatchesPythonDefinition() {
    byte[] a = "head{\"a\": 1}    tail".getBytes(StandardCharsets.UTF_8);
    byte[] b = "head{\"a\": 22}   tail".getBytes(StandardCharsets.UTF_8);
    String da = Integrity.maskedDigest(a, "{\"a\": 1}    ".getBytes(StandardCharsets.UTF_8));
    assertEquals(da, Integrity.maskedDigest(b, "{\"a\": 22}   ".getBytes(StandardCharsets.UTF_8)));
    assertEquals(Hashing.sha256Hex("headtail".getBytes(StandardCharsets.UTF_8)), da);
  }
}
