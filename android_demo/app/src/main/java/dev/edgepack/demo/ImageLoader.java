package dev.edgepack.demo;

import android.content.ContentResolver;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Canvas;
import android.graphics.ColorSpace;
import android.graphics.Matrix;
import android.graphics.Paint;
import android.net.Uri;
import android.os.Build;
import androidx.annotation.RequiresApi;
import androidx.exifinterface.media.ExifInterface;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.InputSpec;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Decodes a photo or picked image to an upright ARGB_8888 bitmap in sRGB. When the manifest allows
 * the app to downscale, large images are subsampled while decoding (no 48 MB bitmaps for a 12 MP
 * photo); images the model can't take are refused before decoding.
 *
 * <p>sRGB: on API 26+ a decoded bitmap keeps the image's own colour space (a phone photo is often
 * Display P3), and {@code copyPixelsToBuffer} hands the model those raw values, while models are
 * trained on sRGB and other paths (desktop, images without a profile) give sRGB. So images are
 * decoded to sRGB, and converted when the decoder kept another colour space.
 */
final class ImageLoader {
  /**
   * Longest side of the on-screen preview. The model's image can be up to its max_side (8192 px
   * for a .ptl), too large to draw on the UI thread (canvas bitmap limit) and tens of MB.
   */
  static final int PREVIEW_MAX_SIDE = 1280;

  private ImageLoader() {}

  static Bitmap decode(ContentResolver resolver, Uri uri, InputSpec spec)
      throws IOException, ImageSizing.ImageSizeException {
    BitmapFactory.Options bounds = new BitmapFactory.Options();
    bounds.inJustDecodeBounds = true;
    try (InputStream in = open(resolver, uri)) {
      BitmapFactory.decodeStream(in, null, bounds);
    }
    if (bounds.outWidth <= 0 || bounds.outHeight <= 0) {
      throw new IOException("this is not an image format the device can decode");
    }
    // EXIF rotation swaps width and height but not the set of sides, so the checks hold
    ImageSizing.Plan plan =
        ImageSizing.plan(bounds.outWidth, bounds.outHeight, spec, LoadedModel.APP_MAX_SIDE);

    BitmapFactory.Options options = new BitmapFactory.Options();
    options.inPreferredConfig = Bitmap.Config.ARGB_8888;
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.O) {
      options.inPreferredColorSpace = srgb();
    }
    options.inSampleSize =
        plan.scaled
            ? ImageSizing.sampleSizeFor(
                bounds.outWidth, bounds.outHeight, Math.max(plan.width, plan.height))
            : 1;
    Bitmap bitmap;
    try (InputStream in = open(resolver, uri)) {
      bitmap = BitmapFactory.decodeStream(in, null, options);
    }
    if (bitmap == null) {
      throw new IOException("the image could not be decoded");
    }
    Bitmap upright = applyExifOrientation(bitmap, readOrientation(resolver, uri));
    return Build.VERSION.SDK_INT >= Build.VERSION_CODES.O ? toSrgb(upright) : upright;
  }

  @RequiresApi(Build.VERSION_CODES.O)
  private static ColorSpace srgb() {
    return ColorSpace.get(ColorSpace.Named.SRGB);
  }

  /**
   * The bitmap in sRGB ARGB_8888: as is when it already is, else drawn into an sRGB bitmap
   * (drawing converts between colour spaces); the original is recycled.
   */
  @RequiresApi(Build.VERSION_CODES.O)
  static Bitmap toSrgb(Bitmap bitmap) {
    ColorSpace cs = bitmap.getColorSpace();
    if ((cs == null || cs.equals(srgb())) && bitmap.getConfig() == Bitmap.Config.ARGB_8888) {
      return bitmap;
    }
    Bitmap out =
        Bitmap.createBitmap(
            bitmap.getWidth(), bitmap.getHeight(), Bitmap.Config.ARGB_8888, bitmap.hasAlpha(), srgb());
    new Canvas(out).drawBitmap(bitmap, 0f, 0f, new Paint(Paint.FILTER_BITMAP_FLAG));
    bitmap.recycle();
    return out;
  }

  /**
   * A copy of {@code image} at most {@link #PREVIEW_MAX_SIDE} on its longer side for the screen,
   * or {@code image} itself when it is small enough.
   */
  static Bitmap preview(Bitmap image) {
    ImageSizing.Plan p = ImageSizing.previewSize(image.getWidth(), image.getHeight(), PREVIEW_MAX_SIDE);
    return p.scaled ? Bitmap.createScaledBitmap(image, p.width, p.height, true) : image;
  }

  private static InputStream open(ContentResolver resolver, Uri uri) throws IOException {
    InputStream in = resolver.openInputStream(uri);
    if (in == null) {
      throw new FileNotFoundException("cannot open " + uri);
    }
    return in;
  }

  private static int readOrientation(ContentResolver resolver, Uri uri) {
    try (InputStream in = open(resolver, uri)) {
      return new ExifInterface(in)
          .getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL);
    } catch (IOException | RuntimeException e) {
      return ExifInterface.ORIENTATION_NORMAL; // no or unreadable EXIF: keep as decoded
    }
  }

  static Bitmap applyExifOrientation(Bitmap bitmap, int orientation) {
    Matrix m = new Matrix();
    switch (orientation) {
      case ExifInterface.ORIENTATION_ROTATE_90:
        m.setRotate(90);
        break;
      case ExifInterface.ORIENTATION_ROTATE_180:
        m.setRotate(180);
        break;
      case ExifInterface.ORIENTATION_ROTATE_270:
        m.setRotate(270);
        break;
      case ExifInterface.ORIENTATION_FLIP_HORIZONTAL:
        m.setScale(-1, 1);
        break;
      case ExifInterface.ORIENTATION_FLIP_VERTICAL:
        m.setScale(1, -1);
        break;
      case ExifInterface.ORIENTATION_TRANSPOSE:
        m.setRotate(90);
        m.postScale(-1, 1);
        break;
      case ExifInterface.ORIENTATION_TRANSVERSE:
        m.setRotate(-90);
        m.postScale(-1, 1);
        break;
      default:
        return bitmap;
    }
    Bitmap rotated =
        Bitmap.createBitmap(bitmap, 0, 0, bitmap.getWidth(), bitmap.getHeight(), m, true);
    if (rotated != bitmap) {
      bitmap.recycle();
    }
    return rotated;
  }
}
