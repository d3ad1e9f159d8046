package dev.edgepack.demo;

import android.content.Context;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Copies {@code assets/model.ptl} to the app's files directory: the lite interpreter loads from a
 * file path, not from an asset stream. The copy is refreshed whenever the installed APK changes.
 */
final class ModelFiles {
  static final String ASSET_NAME = "model.ptl";

  static final String BUILD_HINT =
      "Build one with edgepack and rebuild the app:\n"
          + "  edgepack build SOURCE -o android_demo/app/src/main/assets/model.ptl";

  private ModelFiles() {}

  /** The model file on disk, copied from the assets if needed. Call off the UI thread. */
  static File ensureModelFile(Context context) throws ModelUnavailableException {
    File dir = new File(context.getFilesDir(), "models");
    File target = new File(dir, ASSET_NAME);
    File stamp = new File(dir, ASSET_NAME + ".stamp");
    String wanted = apkStamp(context);
    if (target.isFile() && wanted.equals(readText(stamp))) {
      return target;
    }
    InputStream in;
    try {
      in = context.getAssets().open(ASSET_NAME);
    } catch (FileNotFoundException e) {
      target.delete();
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.MISSING,
          "No model: the app has no assets/" + ASSET_NAME + ". " + BUILD_HINT,
          e);
    } catch (IOException e) {
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.IO, "Could not open assets/" + ASSET_NAME + ": " + e, e);
    }
    if (!dir.isDirectory() && !dir.mkdirs()) {
      closeQuietly(in);
      throw new ModelUnavailableException(
          ModelUnavailableException.Kind.IO, "Could not create " + dir);
    }
    File tmp = new File(dir, ASSET_NAME + ".tmp");
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
