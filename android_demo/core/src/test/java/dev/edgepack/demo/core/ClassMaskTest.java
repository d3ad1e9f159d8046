package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.fail;

import org.junit.Test;

/** Class masks: unsigned uint8 values, argmax of per-class maps, crops. */
public class ClassMaskTest {

  @Test
  public void uint8ValuesAreReadUnsigned() {
    ClassMask m = ClassMask.ofUint8(new byte[] {0, 1, (byte) 200, (byte) 255}, 2, 2);
    assertEquals(0, m.classAt(0, 0));
    assertEquals(1, m.classAt(1, 0));
    assertEquals(200, m.classAt(0, 1));
    assertEquals(255, m.classAt(1, 1));
    assertEquals(255, m.maxClass());
  }

  @Test
  public void oneByOneMask() {
    ClassMask m = ClassMask.ofUint8(new byte[] {3}, 1, 1);
    assertEquals(3, m.classAt(0, 0));
    assertSame(m, m.crop(MaskBox.whole(1, 1)));
  }

  @Test
  public void sizeAndValueErrorsAreRejected() {
    try {
      ClassMask.ofUint8(new byte[5], 2, 2);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
    try {
      ClassMask.ofIndices(new int[] {0, -1}, 2, 1);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
    try {
      ClassMask.ofUint8(new byte[1], 1, 1).classAt(1, 0);
      fail();
    } catch (IndexOutOfBoundsException expected) {
      // ok
    }
  }

  @Test
  public void argmaxPicksTheLargestAndTheLowestIndexOnTies() {
    // [3, 1, 4]: three maps of a 4x1 image
    float[] maps = {
      0.1f, 0.5f, 0.2f, 0.4f, // class 0
      0.7f, 0.5f, 0.2f, 0.1f, // class 1
      0.2f, 0.0f, 0.6f, 0.4f, // class 2
    };
    ClassMask m = ClassMask.argmax(maps, 3, 1, 4, false);
    assertEquals(4, m.getWidth());
    assertEquals(1, m.getHeight());
    assertEquals(1, m.classAt(0, 0));
    assertEquals(0, m.classAt(1, 0)); // tie 0 / 1
    assertEquals(2, m.classAt(2, 0));
    assertEquals(0, m.classAt(3, 0)); // tie 0 / 2
  }

  @Test
  public void argmaxWorksOnLogitsAndNegativeValues() {
    float[] maps = {-5f, -1f, -3f, -2f};
    ClassMask m = ClassMask.argmax(maps, 2, 1, 2, false);
    assertEquals(1, m.classAt(0, 0));
    assertEquals(0, m.classAt(1, 0));
  }

  @Test
  public void argmaxOver255Classes() {
    int k = 255;
    float[] maps = new float[k * 2];
    maps[254 * 2] = 1f; // pixel 0: class 254
    maps[17 * 2 + 1] = 1f; // pixel 1: class 17
    ClassMask m = ClassMask.argmax(maps, k, 1, 2, false);
    assertEquals(254, m.classAt(0, 0));
    assertEquals(17, m.classAt(1, 0));
  }

  @Test
  public void oneSigmoidMapIsThresholdedAtOneHalf() {
    float[] map = {0.2f, 0.5f, 0.5001f, 0.99f};
    ClassMask m = ClassMask.argmax(map, 1, 2, 2, true);
    assertEquals(0, m.classAt(0, 0));
    assertEquals(0, m.classAt(1, 0)); // exactly 0.5 is not above
    assertEquals(1, m.classAt(0, 1));
    assertEquals(1, m.classAt(1, 1));
    // a single softmax map would say class 0 everywhere; the spec refuses it before this
    assertEquals(0, ClassMask.argmax(map, 1, 2, 2, false).maxClass());
  }

  @Test
  public void argmaxRejectsAMapOfTheWrongLength() {
    try {
      ClassMask.argmax(new float[7], 2, 2, 2, false);
      fail();
    } catch (IllegalArgumentException expected) {
      // ok
    }
  }

  @Test
  public void cropKeepsTheBox() {
    int[] v = new int[5 * 4];
    for (int i = 0; i < v.length; i++) v[i] = i;
    ClassMask m = ClassMask.ofIndices(v, 5, 4);
    ClassMask c = m.crop(new MaskBox(1, 2, 3, 2));
    assertEquals(3, c.getWidth());
    assertEquals(2, c.getHeight());
    assertEquals(11, c.classAt(0, 0));
    assertEquals(13, c.classAt(2, 0));
    assertEquals(16, c.classAt(0, 1));
    assertEquals(18, c.classAt(2, 1));
    try {
      m.crop(new MaskBox(3, 0, 3, 1));
      fail("box outside");
    } catch (IllegalArgumentException expected) {
      // ok
    }
  }
}
