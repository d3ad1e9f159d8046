package dev.edgepack.demo;

import android.content.Context;
import dev.edgepack.demo.core.ModelFormat;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The model files in the app's assets ({@code model.pte}, {@code model.ptl}) and their copies in
 * the app's files directory: both runtimes load from a file path, not from an asset stream. A copy
 * is refreshed whenever the installed APK changes. Call off the UI thread.
 */
final class ModelFiles {
  private ModelFiles() {}

  /** Which model files the APK's assets contain. */
  static Set<ModelFormat> presentInAssets(Context context) {
    Set<ModelFormat> out = EnumSet.noneOf(ModelFormat.class);
    try {
      String[] names = context.getAssets().list("");
      List<String> list = names == null ? Arrays.<String>asList() : Arrays.asList(names);
      for (ModelFormat f : ModelFormat.values()) {
        if (list.contains(f.assetName())) out.add(f);
      }
    } catch (IOException e) {
      // unreadable asset list: treat as no models (the message says how to add one)
    }
    return out;
  }

  /** The model file on disk, copied from the assets if needed. */
  static File ensureModelFile(Context context, ModelFormat format) throws ModelUnavailableException {
    String assetName = format.assetName();
    File dir = new File(context.getFilesDir(), "models");
    File target = new File(dir, assetName);
    File stamp = new File(dir, assetName + ".stamp");
    String wanted = apkStamp(context);
    if (target.isFile() && wanted.equals(readText(stamp))) {
      return target;
    }
    InputStream in;
    try {
      in = context.getAssets().open(assetName);
    } catch (FileNotFoundException e) {
      target.delete();
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.MISSING,
          "No model: the app has no assets/" + assetName + ". Build one with edgepack and rebuild"
              + " the app:\n  " + format.buildCommand(),
          e);
    } catch (IOException e) {
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.IO, "Could not open assets/" + assetName + ": " + e, e);
    }
    if (!dir.isDirectory() && !dir.mkdirs()) {
      closeQuietly(in);
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.IO, "Could not create " + dir);
    }
    File tmp = new File(dir, assetName + ".tmp");
    try (InputStream src = in;
        OutputStream out = new FileOutputStream(tmp)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = src.read(buf)) > 0) {
        out.write(buf, 0, n);
      }
    } catch (IOException e) {
      tmp.delete();
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.IO,
          "Could not copy the model to app storage (" + e.getMessage() + "). Is the device full?",
          e);
    }
    if (!tmp.renameTo(target)) {
      target.delete();
      if (!tmp.renameTo(target)) {
        tmp.delete();
        throw new ModelUnavailableException(
            ModelUnavailableException.Kind.IO, "Could not move the model into place: " + target);
      }
    }
    writeText(stamp, wanted);
    return target;
  }

  /** Changes whenever a different APK (and so possibly a different model) is installed. */
  private static String apkStamp(Context context) {
    File apk = new File(context.getApplicationInfo().sourceDir);
    return apk.lastModified() + ":" + apk.length();
  }

  private static String readText(File f) {
    if (!f.isFile()) return "";
    try (InputStream in = new FileInputStream(f)) {
      byte[] data = new byte[(int) Math.min(f.length(), 1024)];
      int n = in.read(data);
      return n <= 0 ? "" : new String(data, 0, n, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  private static void writeText(File f, String text) {
    try (OutputStream out = new FileOutputStream(f)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    } catch (IOException ignored) {
      // without a stamp the model is copied again next time; harmless
    }
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }
}
