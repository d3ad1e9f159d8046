package dev.edgepack.demo.core;

/**
 * Decides the size at which an image is handed to the model, following the manifest's input spec:
 * the model accepts sides in [min_side, max_side]; the app may shrink a large image only when
 * {@code downscale_ok} is true (to at most max_side on the longer side, and to at most the app's
 * own cap, which keeps memory and preprocessing time sane for 12+ MP photos). The aspect ratio is
 * kept; images are never enlarged.
 */
public final class ImageSizing {

  /** The size to use. */
  public static final class Plan {
    public final int width;
    public final int height;
    /** True when the image must be scaled from its original size. */
    public final boolean scaled;

    Plan(int width, int height, boolean scaled) {
      this.width = width;
      this.height = height;
      this.scaled = scaled;
    }

    @Override
    public String toString() {
      return width + "x" + height + (scaled ? " (scaled)" : "");
    }
  }

  /** The image can't be given to this model; the message is for the user. */
  public static final class ImageSizeException extends Exception {
    private static final long serialVersionUID = 1L;

    public ImageSizeException(String message) {
      super(message);
    }
  }

  private ImageSizing() {}

  /**
   * @param width original width in pixels
   * @param height original height in pixels
   * @param spec the manifest's input spec
   * @param appMaxSide the app's own cap on the longer side when downscaling is allowed (<= 0: none)
   */
  public static Plan plan(int width, int height, InputSpec spec, int appMaxSide) throws ImageSizeException {
    if (width < 1 || height < 1) {
      throw new ImageSizeException("The image is empty (" + width + "x" + height + ").");
    }
    int minSide = spec.getMinSide();
    int maxSide = spec.getMaxSide();
    int longer = Math.max(width, height);
    int shorter = Math.min(width, height);
    if (shorter < minSide) {
      throw new ImageSizeException(
          "The image is " + width + "x" + height + " pixels; the model needs at least "
              + minSide + " pixels on each side.");
    }
    if (!spec.isDownscaleOk()) {
      if (longer > maxSide) {
        throw new ImageSizeException(
            "The image is " + width + "x" + height + " pixels; the model accepts at most "
                + maxSide + " pixels per side and its manifest does not allow the app to shrink"
                + " images (input.downscale_ok is false). Use a smaller image.");
      }
      return new Plan(width, height, false);
    }
    int cap = maxSide;
    if (appMaxSide > 0 && appMaxSide < cap) {
      cap = Math.max(appMaxSide, minSide);
    }
    if (longer <= cap) {
      return new Plan(width, height, false);
    }
    Plan p = scaleLongerTo(width, height, cap);
    if (Math.min(p.width, p.height) < minSide && cap < maxSide) {
      // a very elongated image: shrink less (only as far as the model's own limit requires)
      p = longer <= maxSide ? new Plan(width, height, false) : scaleLongerTo(width, height, maxSide);
    }
    if (Math.min(p.width, p.height) < minSide) {
      throw new ImageSizeException(
          "The image is " + width + "x" + height + " pixels, too elongated: shrunk to at most "
              + maxSide + " pixels on the longer side, its shorter side would be under the model's"
              + " minimum of " + minSide + " pixels.");
    }
    return p;
  }

  private static Plan scaleLongerTo(int width, int height, int target) {
    if (width >= height) {
      int h = (int) Math.max(1, Math.round((double) height * target / width));
      return new Plan(target, h, true);
    }
    int w = (int) Math.max(1, Math.round((double) width * target / height));
    return new Plan(w, target, true);
  }

  /**
   * The size of the on-screen preview of an image: its longer side at most {@code maxSide} (and
   * never enlarged), aspect ratio kept, each side at least 1. The image given to the model can be
   * up to the manifest's max_side (8192 px for a .ptl): drawing that on the UI thread can exceed
   * the canvas's bitmap size limit and costs tens of MB, so the screen gets a scaled copy.
   */
  public static Plan previewSize(int width, int height, int maxSide) {
    if (width < 1 || height < 1) throw new IllegalArgumentException("empty image");
    if (maxSide < 1) throw new IllegalArgumentException("maxSide must be positive");
    if (Math.max(width, height) <= maxSide) return new Plan(width, height, false);
    return scaleLongerTo(width, height, maxSide);
  }

  /**
   * The largest power-of-two {@code BitmapFactory.Options.inSampleSize} that decodes an image of
   * the given size with its longer side still at least {@code targetLongerSide} (1 = full size).
   */
  public static int sampleSizeFor(int width, int height, int targetLongerSide) {
    if (targetLongerSide <= 0) return 1;
    int longer = Math.max(width, height);
    int sample = 1;
    while (longer / (sample * 2) >= targetLongerSide) {
      sample *= 2;
    }
    return sample;
  }
}
