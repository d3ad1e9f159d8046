package dev.edgepack.demo;

import android.content.ContentResolver;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Matrix;
import android.net.Uri;
import androidx.exifinterface.media.ExifInterface;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.InputSpec;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Decodes a photo or picked image to an upright ARGB_8888 bitmap. When the manifest allows the app
 * to downscale, large images are subsampled while decoding (no 48 MB bitmaps for a 12 MP photo);
 * images the model can't take are refused before decoding.
 */
final class ImageLoader {
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
    return applyExifOrientation(bitmap, readOrientation(resolver, uri));
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
