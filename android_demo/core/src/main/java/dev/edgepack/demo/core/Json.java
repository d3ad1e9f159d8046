package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, dependency-free JSON reader and writer (RFC 8259), so that the core module runs on a
 * plain JVM with no Android {@code org.json}.
 *
 * <p>Reading maps JSON values to Java as follows: object → {@link LinkedHashMap} (key order kept),
 * array → {@link ArrayList}, string → {@link String}, number → {@link Long} when written without
 * fraction or exponent and in range, otherwise {@link Double}, {@code true}/{@code false} →
 * {@link Boolean}, {@code null} → Java {@code null}. Duplicate keys: the last one wins, as in
 * Python's {@code json} module.
 *
 * <p>Writing accepts the same types plus any {@link Number}, {@link Map} with string keys,
 * {@link Collection}, {@code double[]}, {@code float[]}, {@code long[]} and {@code int[]}. NaN and
 * infinities are written as {@code null} (JSON has no such numbers).
 */
public final class Json {
  private static final int MAX_DEPTH = 256;

  private final String text;
  private int pos;
  private int depth;

  private Json(String text) {
    this.text = text;
  }

  /** Parses one JSON document. Leading/trailing whitespace and a leading BOM are allowed. */
  public static Object parse(String text) {
    if (text == null) {
      throw new JsonParseException("no JSON text (null)", 0);
    }
    Json p = new Json(text);
    if (p.text.startsWith("\uFEFF")) {
      p.pos = 1;
    }
    p.skipWhitespace();
    if (p.pos >= p.text.length()) {
      throw new JsonParseException("empty JSON text", p.pos);
    }
    Object value = p.readValue();
    p.skipWhitespace();
    if (p.pos != p.text.length()) {
      throw p.error("unexpected trailing characters");
    }
    return value;
  }

  /** Parses a document whose top level must be an object. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> parseObject(String text) {
    Object value = parse(text);
    if (!(value instanceof Map)) {
      throw new JsonParseException(
          "top-level JSON value is " + typeName(value) + ", expected an object", 0);
    }
    return (Map<String, Object>) value;
  }

  /** A short type name for messages: "object", "array", "string", "number", "boolean", "null". */
  public static String typeName(Object value) {
    if (value == null) return "null";
    if (value instanceof Map) return "object";
    if (value instanceof List) return "array";
    if (value instanceof String) return "string";
    if (value instanceof Number) return "number";
    if (value instanceof Boolean) return "boolean";
    return value.getClass().getSimpleName();
  }

  // ---------------------------------------------------------------- reading

  private JsonParseException error(String message) {
    return new JsonParseException(message, pos);
  }

  private void skipWhitespace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        pos++;
      } else {
        break;
      }
    }
  }

  private Object readValue() {
    if (pos >= text.length()) {
      throw error("unexpected end of JSON text");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return readObject();
      case '[':
        return readArray();
      case '"':
        return readString();
      case 't':
        expectWord("true");
        return Boolean.TRUE;
      case 'f':
        expectWord("false");
        return Boolean.FALSE;
      case 'n':
        expectWord("null");
        return null;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return readNumber();
        }
        throw error("unexpected character '" + printable(c) + "'");
    }
  }

  private static String printable(char c) {
    return c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c);
  }

  private void expectWord(String word) {
    if (!text.startsWith(word, pos)) {
      throw error("invalid literal, expected '" + word + "'");
    }
    pos += word.length();
  }

  private void enter() {
    if (++depth > MAX_DEPTH) {
      throw error("JSON nested deeper than " + MAX_DEPTH + " levels");
    }
  }

  private Map<String, Object> readObject() {
    enter();
    pos++; // '{'
    Map<String, Object> map = new LinkedHashMap<>();
    skipWhitespace();
    if (pos < text.length() && text.charAt(pos) == '}') {
      pos++;
      depth--;
      return map;
    }
    while (true) {
      skipWhitespace();
      if (pos >= text.length() || text.charAt(pos) != '"') {
        throw error("expected a string key");
      }
      String key = readString();
      skipWhitespace();
      if (pos >= text.length() || text.charAt(pos) != ':') {
        throw error("expected ':' after object key");
      }
      pos++;
      skipWhitespace();
      map.put(key, readValue());
      skipWhitespace();
      if (pos >= text.length()) {
        throw error("unterminated object");
      }
      char c = text.charAt(pos++);
      if (c == '}') {
        depth--;
        return map;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or '}' in object");
      }
    }
  }

  private List<Object> readArray() {
    enter();
    pos++; // '['
    List<Object> list = new ArrayList<>();
    skipWhitespace();
    if (pos < text.length() && text.charAt(pos) == ']') {
      pos++;
      depth--;
      return list;
    }
    while (true) {
      skipWhitespace();
      list.add(readValue());
      skipWhitespace();
      if (pos >= text.length()) {
        throw error("unterminated array");
      }
      char c = text.charAt(pos++);
      if (c == ']') {
        depth--;
        return list;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or ']' in array");
      }
    }
  }

  private String readString() {
    int start = ++pos; // skip opening quote
    StringBuilder sb = null;
    while (true) {
      if (pos >= text.length()) {
        throw new JsonParseException("unterminated string", start - 1);
      }
      char c = text.charAt(pos);
      if (c == '"') {
        String s = sb == null ? text.substring(start, pos) : sb.toString();
        pos++;
        return s;
      }
      if (c < 0x20) {
        throw error("unescaped control character in string");
      }
      if (c == '\\') {
        if (sb == null) {
          sb = new StringBuilder(text.substring(start, pos));
        }
        pos++;
        if (pos >= text.length()) {
          throw error("unterminated escape sequence");
        }
        char e = text.charAt(pos++);
        switch (e) {
          case '"': sb.append('"'); break;
          case '\\': sb.append('\\'); break;
          case '/': sb.append('/'); break;
          case 'b': sb.append('\b'); break;
          case 'f': sb.append('\f'); break;
          case 'n': sb.append('\n'); break;
          case 'r': sb.append('\r'); break;
          case 't': sb.append('\t'); break;
          case 'u':
            if (pos + 4 > text.length()) {
              throw error("truncated \\u escape");
            }
            int code = 0;
            for (int i = 0; i < 4; i++) {
              int d = Character.digit(text.charAt(pos + i), 16);
              if (d < 0) {
                throw error("invalid hex digit in \\u escape");
              }
              code = code * 16 + d;
            }
            pos += 4;
            sb.append((char) code); // surrogate pairs arrive as two escapes and re-pair here
            break;
          default:
            pos--;
            throw error("invalid escape '\\" + printable(e) + "'");
        }
      } else {
        if (sb != null) {
          sb.append(c);
        }
        pos++;
      }
    }
  }

  private Number readNumber() {
    int start = pos;
    if (text.charAt(pos) == '-') {
      pos++;
    }
    if (pos >= text.length()) {
      throw error("truncated number");
    }
    char c = text.charAt(pos);
    if (c == '0') {
      pos++;
    } else if (c >= '1' && c <= '9') {
      while (pos < text.length() && isDigit(text.charAt(pos))) pos++;
    } else {
      throw error("invalid number");
    }
    boolean integral = true;
    if (pos < text.length() && text.charAt(pos) == '.') {
      integral = false;
      pos++;
      int digits = pos;
      while (pos < text.length() && isDigit(text.charAt(pos))) pos++;
      if (pos == digits) {
        throw error("expected digits after decimal point");
      }
    }
    if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      integral = false;
      pos++;
      if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) pos++;
      int digits = pos;
      while (pos < text.length() && isDigit(text.charAt(pos))) pos++;
      if (pos == digits) {
        throw error("expected digits in exponent");
      }
    }
    String literal = text.substring(start, pos);
    if (integral) {
      try {
        return Long.parseLong(literal);
      } catch (NumberFormatException tooBig) {
        // falls through to double
      }
    }
    return Double.parseDouble(literal);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  // ---------------------------------------------------------------- writing

  /** Compact JSON, no whitespace. */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder();
    writeValue(sb, value, -1, 0);
    return sb.toString();
  }

  /**
   * Pretty JSON with the given indent (spaces per level), no trailing newline. Arrays holding only
   * plain values stay on one line ({@code [480, 640, 4]}).
   */
  public static String writePretty(Object value, int indent) {
    StringBuilder sb = new StringBuilder();
    writeValue(sb, value, Math.max(0, indent), 0);
    return sb.toString();
  }

  private static void newline(StringBuilder sb, int indent, int level) {
    if (indent < 0) return;
    sb.append('\n');
    for (int i = 0; i < indent * level; i++) sb.append(' ');
  }

  private static void writeValue(StringBuilder sb, Object value, int indent, int level) {
    if (value == null) {
      sb.append("null");
    } else if (value instanceof String) {
      quote(sb, (String) value);
    } else if (value instanceof Boolean) {
      sb.append(((Boolean) value).booleanValue() ? "true" : "false");
    } else if (value instanceof Double || value instanceof Float) {
      writeDouble(sb, ((Number) value).doubleValue());
    } else if (value instanceof Number) {
      sb.append(value.toString());
    } else if (value instanceof Map) {
      Map<?, ?> map = (Map<?, ?>) value;
      if (map.isEmpty()) {
        sb.append("{}");
        return;
      }
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!(e.getKey() instanceof String)) {
          throw new IllegalArgumentException("JSON object keys must be strings: " + e.getKey());
        }
        if (!first) sb.append(',');
        first = false;
        newline(sb, indent, level + 1);
        quote(sb, (String) e.getKey());
        sb.append(indent < 0 ? ":" : ": ");
        writeValue(sb, e.getValue(), indent, level + 1);
      }
      newline(sb, indent, level);
      sb.append('}');
    } else if (value instanceof Collection) {
      writeList(sb, new ArrayList<Object>((Collection<?>) value), indent, level);
    } else if (value instanceof double[]) {
      List<Object> list = new ArrayList<>();
      for (double d : (double[]) value) list.add(d);
      writeList(sb, list, indent, level);
    } else if (value instanceof float[]) {
      List<Object> list = new ArrayList<>();
      for (float f : (float[]) value) list.add((double) f);
      writeList(sb, list, indent, level);
    } else if (value instanceof long[]) {
      List<Object> list = new ArrayList<>();
      for (long l : (long[]) value) list.add(l);
      writeList(sb, list, indent, level);
    } else if (value instanceof int[]) {
      List<Object> list = new ArrayList<>();
      for (int i : (int[]) value) list.add(i);
      writeList(sb, list, indent, level);
    } else {
      throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
    }
  }

  private static void writeList(StringBuilder sb, List<Object> list, int indent, int level) {
    if (list.isEmpty()) {
      sb.append("[]");
      return;
    }
    boolean flat = indent >= 0;
    for (Object item : list) {
      if (item instanceof Map || item instanceof Collection || (item != null && item.getClass().isArray())) {
        flat = false;
        break;
      }
    }
    sb.append('[');
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) sb.append(flat ? ", " : ",");
      if (!flat) newline(sb, indent, level + 1);
      writeValue(sb, list.get(i), indent, level + 1);
    }
    if (!flat) newline(sb, indent, level);
    sb.append(']');
  }

  private static void writeDouble(StringBuilder sb, double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      sb.append("null");
    } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      // integral doubles keep a ".0" so that readers see a float, like Python's json does
      sb.append((long) d).append(".0");
    } else {
      sb.append(Double.toString(d)); // e.g. 1.5, 1.0E-4 (valid JSON)
    }
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        default:
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }
}
