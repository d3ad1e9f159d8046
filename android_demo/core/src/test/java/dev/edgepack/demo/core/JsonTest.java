package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {

  @Test
  public void parsesAllValueTypes() {
    Map<String, Object> m =
        Json.parseObject(
            "{\"s\":\"x\",\"i\":42,\"neg\":-7,\"f\":1.5,\"e\":1e-6,\"t\":true,\"n\":null,"
                + "\"a\":[1,\"two\",[],{}],\"o\":{\"k\":false}}");
    assertEquals("x", m.get("s"));
    assertEquals(42L, m.get("i"));
    assertEquals(-7L, m.get("neg"));
    assertEquals(1.5, m.get("f"));
    assertEquals(1e-6, m.get("e"));
    assertEquals(Boolean.TRUE, m.get("t"));
    assertTrue(m.containsKey("n"));
    assertNull(m.get("n"));
    assertEquals(Arrays.asList(1L, "two", Arrays.asList(), new LinkedHashMap<>()), m.get("a"));
    assertEquals(Boolean.FALSE, ((Map<?, ?>) m.get("o")).get("k"));
    assertEquals(Arrays.asList("s", "i", "neg", "f", "e", "t", "n", "a", "o"), Arrays.asList(m.keySet().toArray()));
  }

  @Test
  public void parsesEscapesAndUnicode() {
    Object v = Json.parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00 \u2014\"");
    assertEquals("a\"b\\c/d\n\t\u00e9\ud83d\ude00 \u2014", v);
  }

  @Test
  public void bigIntegerFallsBackToDouble() {
    assertEquals(1e20, Json.parse("100000000000000000000"));
    assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
  }

  @Test
  public void toleratesWhitespaceAndBom() {
    assertEquals(Arrays.asList(1L, 2L), Json.parse("\uFEFF \n [ 1 ,\t2 ] \r\n"));
  }

  @Test
  public void rejectsMalformedText() {
    String[] bad = {
      "", "  ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", ".5", "1e",
      "tru", "nul", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12g4\"", "[1] [2]", "{\"a\":1}}", "NaN",
      "'single'"
    };
    for (String s : bad) {
      try {
        Json.parse(s);
        fail("accepted malformed JSON: " + s);
      } catch (JsonParseException expected) {
        assertTrue(expected.getMessage().contains("at character"));
      }
    }
  }

  @Test(expected = JsonParseException.class)
  public void rejectsDeepNesting() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 1000; i++) sb.append('[');
    for (int i = 0; i < 1000; i++) sb.append(']');
    Json.parse(sb.toString());
  }

  @Test(expected = JsonParseException.class)
  public void parseObjectRejectsNonObject() {
    Json.parseObject("[1, 2]");
  }

  @Test
  public void writeRoundTrips() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", "golden \"retriever\"\n\u2014\u0001");
    m.put("n", 3);
    m.put("l", 12345678901L);
    m.put("d", 0.1);
    m.put("whole", 2.0);
    m.put("tiny", 1.0e-7);
    m.put("nan", Double.NaN);
    m.put("list", Arrays.asList(1, "a", null, true));
    m.put("arr", new double[] {1.5, 2.5});
    m.put("empty", new LinkedHashMap<String, Object>());
    String compact = Json.write(m);
    String pretty = Json.writePretty(m, 2);
    assertTrue(compact, compact.contains("\"whole\":2.0"));
    assertTrue(compact, compact.contains("\\u0001"));
    assertTrue(compact, compact.contains("\"nan\":null"));
    for (String text : new String[] {compact, pretty}) {
      Map<String, Object> back = Json.parseObject(text);
      assertEquals(m.get("name"), back.get("name"));
      assertEquals(3L, back.get("n"));
      assertEquals(12345678901L, back.get("l"));
      assertEquals(0.1, back.get("d"));
      assertEquals(2.0, back.get("whole"));
      assertEquals(1.0e-7, back.get("tiny"));
      assertNull(back.get("nan"));
      assertEquals(Arrays.asList(1L, "a", null, true), back.get("list"));
      assertEquals(Arrays.asList(1.5, 2.5), back.get("arr"));
    }
    assertTrue(pretty.startsWith("{\n  \"name\": "));
    assertTrue(pretty, pretty.contains("\"arr\": [1.5, 2.5]"));
    assertTrue(pretty, pretty.contains("\"empty\": {}"));
    String nested = Json.writePretty(Arrays.asList(Arrays.asList(1, 2), "x"), 2);
    assertEquals("[\n  [1, 2],\n  \"x\"\n]", nested);
  }

  @Test
  public void duplicateKeysLastWins() {
    assertEquals(2L, Json.parseObject("{\"a\":1,\"a\":2}").get("a"));
  }

  @Test
  public void fixtureParsesAndRoundTrips() {
    Map<String, Object> m = Fixtures.manifestMap();
    Map<String, Object> again = Json.parseObject(Json.writePretty(m, 2));
    assertEquals(m, again);
    List<?> mean = (List<?>) Fixtures.child(m, "preprocess").get("mean");
    assertEquals(3, mean.size());
  }
}
