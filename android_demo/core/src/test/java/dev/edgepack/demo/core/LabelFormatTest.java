package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.junit.Test;

public class LabelFormatTest {

  @Test
  public void formatsLikeTheSpec() {
    assertEquals("golden retriever \u2014 87.3%", LabelFormat.format("golden retriever", 0.873));
    assertEquals("cat \u2014 100.0%", LabelFormat.format("cat", 1.0));
    assertEquals("cat \u2014 0.0%", LabelFormat.format("cat", 0.0));
    assertEquals("cat \u2014 <0.1%", LabelFormat.format("cat", 0.0004));
    assertEquals("cat \u2014 0.1%", LabelFormat.format("cat", 0.0006));
    assertEquals("cat \u2014 n/a", LabelFormat.format("cat", Double.NaN));
  }

  @Test
  public void ignoresDefaultLocale() {
    Locale saved = Locale.getDefault();
    try {
      Locale.setDefault(Locale.GERMANY); // would print 87,3
      assertEquals("87.3%", LabelFormat.percent(0.873f));
      assertEquals("12.3 ms", LabelFormat.millis(12.345));
      assertEquals("cat \u2014 5.5%", LabelFormat.format("cat", 0.055));
    } finally {
      Locale.setDefault(saved);
    }
  }

  @Test
  public void labelFallbacks() {
    List<String> labels = Arrays.asList("a", "", "  ", "d");
    assertEquals("a", LabelFormat.labelFor(labels, 0));
    assertEquals("class 1", LabelFormat.labelFor(labels, 1));
    assertEquals("class 2", LabelFormat.labelFor(labels, 2));
    assertEquals("d", LabelFormat.labelFor(labels, 3));
    assertEquals("class 4", LabelFormat.labelFor(labels, 4));
    assertEquals("class 0", LabelFormat.labelFor(Collections.<String>emptyList(), 0));
    assertEquals("class 7", LabelFormat.labelFor(null, 7));
  }

  @Test
  public void millis() {
    assertEquals("0.42 ms", LabelFormat.millis(0.4249));
    assertEquals("12.3 ms", LabelFormat.millis(12.34));
    assertEquals("1234 ms", LabelFormat.millis(1234.4));
  }
}
