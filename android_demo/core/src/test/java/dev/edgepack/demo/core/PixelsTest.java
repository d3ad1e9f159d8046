package dev.edgepack.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.Test;

public class PixelsTest {

  @Test
  public void argbIntsBecomeRgbaBytes() {
    int[] argb = {0xFF102030, 0x80FFFFFF, 0x00000000, 0x7F010203};
    byte[] rgba = new byte[16];
    Pixels.argbToRgba(argb, rgba);
    assertArrayEquals(
        new byte[] {
          0x10, 0x20, 0x30, (byte) 0xFF,
          (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x80,
          0, 0, 0, 0,
          1, 2, 3, 0x7F
        },
        rgba);
    for (int i = 0; i < argb.length; i++) {
      assertEquals(argb[i], Pixels.rgbaToArgb(rgba, 4 * i));
    }
  }

  @Test(expected = IllegalArgumentException.class)
  public void outputTooSmall() {
    Pixels.argbToRgba(new int[2], new byte[7]);
  }

  @Test(expected = IllegalArgumentException.class)
  public void overflowDetected() {
    Pixels.rgbaByteCount(50000, 50000);
  }

  @Test
  public void testImageIsDeterministicOpaqueRgba() {
    byte[] a = TestImage.rgba(64, 48);
    byte[] b = TestImage.rgba(64, 48);
    assertArrayEquals(a, b);
    assertEquals(64 * 48 * 4, a.length);
    for (int i = 3; i < a.length; i += 4) assertEquals((byte) 255, a[i]);
    // corners: R ramps with x, G with y
    assertEquals(0, a[0] & 0xff);
    assertEquals(255, a[(63) * 4] & 0xff);
    assertEquals(255, a[(47 * 64) * 4 + 1] & 0xff);
    assertNotEquals(a[2], a[32 * 4 + 2]); // checkerboard flips every 32 px
    // stable content hash, so the desktop side can reproduce the same image
    assertEquals(Hashing.sha256Hex(TestImage.rgba(640, 480)), Hashing.sha256Hex(TestImage.rgba(640, 480)));
  }

  @Test
  public void sha256KnownAnswers() throws Exception {
    assertEquals(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Hashing.sha256Hex(new byte[0]));
    byte[] abc = "abc".getBytes(StandardCharsets.US_ASCII);
    assertEquals(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        Hashing.sha256Hex(new ByteArrayInputStream(abc)));
  }
}
