package dev.edgepack.demo;

import android.app.Application;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.SystemClock;
import androidx.annotation.NonNull;
import androidx.lifecycle.AndroidViewModel;
import androidx.lifecycle.LiveData;
import androidx.lifecycle.MutableLiveData;
import androidx.lifecycle.SavedStateHandle;
import dev.edgepack.demo.core.Embeddings;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.LabelFormat;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.Prediction;
import dev.edgepack.demo.core.RequestGate;
import dev.edgepack.demo.core.RuntimeSelection;
import dev.edgepack.demo.core.SegmentationSummary;
import java.io.IOException;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Holds the loaded model across configuration changes; all model work on {@link TorchThread}.
 *
 * <p>Requests (photos, picked images) go through a {@link RequestGate}: one that arrives while the
 * model is still loading — e.g. the camera's result after Android killed the app while the camera
 * was open, delivered to the restarted app before its model is ready — is kept (also in the saved
 * state) and classified once the model is ready, instead of being dropped.
 */
public final class MainViewModel extends AndroidViewModel {
  private static final String KEY_PENDING = "pending_uri";

  /** State of the model. */
  static final class ModelState {
    final boolean loading;
    final boolean ready;
    final String summary;
    final String note;
    final String error;
    /** Runtimes the user can choose from (two in the "both" variant with both files), else empty. */
    final List<ModelFormat> switchable;
    /** The runtime in use or being loaded; null when none. */
    final ModelFormat active;

    ModelState(
        boolean loading, boolean ready, String summary, String note, String error,
        List<ModelFormat> switchable, ModelFormat active) {
      this.loading = loading;
      this.ready = ready;
      this.summary = summary;
      this.note = note;
      this.error = error;
      this.switchable = switchable;
      this.active = active;
    }

    static ModelState loading(List<ModelFormat> switchable, ModelFormat active) {
      return new ModelState(true, false, null, null, null, switchable, active);
    }
  }

  /** State of the current classification. */
  static final class ResultState {
    final boolean busy;
    /** A request waits for the model: shown as a status line. */
    final String waiting;
    /** A scaled preview ({@link ImageLoader#preview}), never the full-size image. */
    final Bitmap preview;
    final List<Prediction> top;
    /**
     * An embedding model's result ({@link Embeddings.Summary#format()}: the vector's size and the
     * cosine similarity with the previous image), else null.
     */
    final String embedding;
    /**
     * A segmentation model's result: the preview with the class mask blended over it (same size as
     * {@link #preview}), else null.
     */
    final Bitmap overlay;
    /** A segmentation model's legend (each class's share and colour), else null. */
    final SegmentationSummary segmentation;
    final String timing;
    final String note;
    final String error;

    ResultState(
        boolean busy, String waiting, Bitmap preview, List<Prediction> top, String timing, String note,
        String error) {
      this(busy, waiting, preview, top, null, null, null, timing, note, error);
    }

    ResultState(
        boolean busy, String waiting, Bitmap preview, List<Prediction> top, String embedding,
        Bitmap overlay, SegmentationSummary segmentation, String timing, String note, String error) {
      this.busy = busy;
      this.waiting = waiting;
      this.preview = preview;
      this.top = top;
      this.embedding = embedding;
      this.overlay = overlay;
      this.segmentation = segmentation;
      this.timing = timing;
      this.note = note;
      this.error = error;
    }

    static ResultState empty() {
      return new ResultState(false, null, null, Collections.<Prediction>emptyList(), null, null, null);
    }

    static ResultState error(Bitmap preview, String message) {
      return new ResultState(false, null, preview, Collections.<Prediction>emptyList(), null, null, message);
    }
  }

  private final MutableLiveData<ModelState> modelState =
      new MutableLiveData<>(ModelState.loading(Collections.<ModelFormat>emptyList(), null));
  private final MutableLiveData<ResultState> resultState =
      new MutableLiveData<>(ResultState.empty());
  private final SavedStateHandle saved;
  /** UI thread only. */
  private final RequestGate<Uri> gate = new RequestGate<>();

  /** Touched only on the torch thread. */
  private LoadedModel model;
  /** The last image's vector (embedding models); torch thread only. */
  private final Embeddings.Tracker embeddings = new Embeddings.Tracker();
  /** Set in onCleared: queued torch-thread work for this ViewModel then does nothing. */
  private volatile boolean cleared;

  public MainViewModel(@NonNull Application application, @NonNull SavedStateHandle saved) {
    super(application);
    this.saved = saved;
    Uri pending = saved.get(KEY_PENDING);
    if (pending != null) {
      // a request kept across process death: it waits for the model like any other
      gate.submit(pending);
      resultState.setValue(waitingState(pending));
    }
    TorchThread.submit(() -> loadModel(null));
  }

  LiveData<ModelState> modelState() {
    return modelState;
  }

  LiveData<ResultState> resultState() {
    return resultState;
  }

  /** Classifies the image at {@code uri} now, or as soon as possible. Call on the UI thread. */
  void classify(Uri uri) {
    switch (gate.submit(uri)) {
      case START:
        start(uri);
        break;
      case WAIT_FOR_MODEL:
      case WAIT_FOR_BUSY:
        saved.set(KEY_PENDING, uri);
        resultState.setValue(waitingState(uri));
        break;
      case REFUSED:
      default:
        ModelState ms = modelState.getValue();
        resultState.setValue(
            ResultState.error(
                null,
                "The image can't be classified: the model is not available"
                    + (ms != null && ms.error != null ? " (see above)." : ".")));
    }
  }

  private ResultState waitingState(Uri uri) {
    ResultState current = resultState.getValue();
    boolean busy = current != null && current.busy;
    String text = gate.isModelReady()
        ? "Image received; it will be classified after the current one."
        : "Image received; it will be classified as soon as the model is loaded.";
    return new ResultState(
        busy, text, current == null ? null : current.preview,
        Collections.<Prediction>emptyList(), null, null, null);
  }

  /** Switches to the other runtime's model file (reloads). Call on the UI thread. */
  void switchRuntime(ModelFormat format) {
    ModelState ms = modelState.getValue();
    if (ms == null || ms.loading || format == ms.active || !ms.switchable.contains(format)) return;
    gate.modelLoading();
    modelState.setValue(ModelState.loading(ms.switchable, format));
    Settings.setRuntime(getApplication(), format);
    TorchThread.submit(() -> loadModel(format));
  }

  private void start(Uri uri) {
    saved.remove(KEY_PENDING);
    ResultState current = resultState.getValue();
    resultState.setValue(
        new ResultState(
            true, null, current == null ? null : current.preview,
            Collections.<Prediction>emptyList(), null, null, null));
    TorchThread.submit(() -> runClassification(uri));
  }

  // ------------------------------------------------------------------ torch thread

  /** Loads {@code requested}, or the preferred/default runtime's model when null. */
  private void loadModel(ModelFormat requested) {
    if (cleared) return;
    Application app = getApplication();
    if (model != null) {
      model.destroy();
      model = null;
    }
    embeddings.reset(); // vectors of another model are not comparable
    Settings.Values settings = Settings.read(app); // torch thread: off the UI thread
    RuntimeSelection selection =
        Runtimes.select(app, requested != null ? requested : settings.runtime);
    List<ModelFormat> switchable =
        selection.canSwitch() ? selection.getUsable() : Collections.<ModelFormat>emptyList();
    ModelFormat active = selection.getActive();
    String notes = null;
    for (String n : selection.getNotes()) notes = join(notes, n); // (String.join needs API 26)
    if (active == null) {
      fail(switchable, null, selection.getProblem());
      return;
    }
    if (requested == null) {
      modelState.postValue(ModelState.loading(switchable, active)); // now known: show the choice
    }
    try {
      LoadedModel m = LoadedModel.load(app, Runtimes.get(active), settings.threads);
      if (cleared) {
        m.destroy();
        return;
      }
      model = m;
      Manifest manifest = m.getManifest();
      String summary =
          manifest.describe()
              + String.format(
                  Locale.ROOT,
                  "\n%s · %s · loaded in %s",
                  active.displayName,
                  active.runtimeName(),
                  LabelFormat.millis(m.getLoadMs()));
      String warnings = manifest.check().userMessage();
      String note = join(warnings.isEmpty() ? null : warnings, notes);
      TorchThread.onMainThread(
          () -> {
            modelState.setValue(new ModelState(false, true, summary, note, null, switchable, active));
            Uri next = gate.modelReady();
            if (next != null) start(next);
          });
    } catch (ModelUnavailableException e) {
      fail(switchable, active, join(e.getMessage(), notes));
    } catch (RuntimeException | OutOfMemoryError e) {
      fail(switchable, active, "Loading the model failed: " + e);
    }
  }

  private void fail(List<ModelFormat> switchable, ModelFormat active, String message) {
    TorchThread.onMainThread(
        () -> {
          modelState.setValue(new ModelState(false, false, null, null, message, switchable, active));
          Uri dropped = gate.modelFailed();
          if (dropped != null) {
            saved.remove(KEY_PENDING);
            resultState.setValue(
                ResultState.error(null, "The image could not be classified: the model is not available."));
          }
        });
  }

  private static String join(String a, String b) {
    if (a == null) return b;
    if (b == null) return a;
    return a + "\n" + b;
  }

  private void runClassification(Uri uri) {
    if (cleared) return;
    Application app = getApplication();
    Bitmap bitmap = null;
    Bitmap preview = null;
    try {
      LoadedModel m = model;
      if (m == null) {
        throw new IllegalStateException("the model is not loaded");
      }
      bitmap = ImageLoader.decode(app.getContentResolver(), uri, m.getManifest().getInput());
      preview = ImageLoader.preview(bitmap);
      int threads = Settings.read(app).threads;
      m.setThreads(threads);
      LoadedModel.Classification c = m.classify(bitmap);
      Bitmap overlay = null;
      String overlayTiming = "";
      if (c.mask != null) {
        long o0 = SystemClock.elapsedRealtimeNanos();
        overlay = SegmentationBitmaps.overlay(preview, c.mask, LoadedModel.PALETTE);
        double overlayMs = (SystemClock.elapsedRealtimeNanos() - o0) / 1e6;
        overlayTiming = " · mask " + LabelFormat.millis(c.postMs) + " · overlay " + LabelFormat.millis(overlayMs);
      }
      String timing =
          String.format(
              Locale.ROOT,
              "%s: inference %s (model incl. its preprocessing) · image prep %s%s · input %d×%d%s · %d thread%s",
              m.getFormat().displayName,
              LabelFormat.millis(c.inferenceMs),
              LabelFormat.millis(c.prepareMs),
              overlayTiming,
              c.width,
              c.height,
              c.scaled ? " (downscaled)" : "",
              threads,
              threads == 1 ? "" : "s");
      String embedding = c.embedding != null ? embeddings.add(c.embedding).format() : null;
      resultState.postValue(
          new ResultState(
              false, null, preview, c.top, embedding, overlay, c.segmentation, timing, m.resultNote(), null));
    } catch (ImageSizing.ImageSizeException e) {
      resultState.postValue(ResultState.error(preview, e.getMessage()));
    } catch (IOException e) {
      resultState.postValue(ResultState.error(null, "The image could not be read: " + e.getMessage()));
    } catch (ModelUnavailableException e) {
      resultState.postValue(ResultState.error(preview, e.getMessage()));
    } catch (OutOfMemoryError e) {
      resultState.postValue(ResultState.error(null, "Not enough memory for this image."));
    } catch (RuntimeException e) {
      resultState.postValue(ResultState.error(preview, "Inference failed: " + e.getMessage()));
    } finally {
      if (bitmap != null && bitmap != preview) {
        bitmap.recycle(); // the full-size image is not kept: the screen shows the preview
      }
      TorchThread.onMainThread(this::classificationFinished);
    }
  }

  /** UI thread: the next waiting request, if any, starts now. */
  private void classificationFinished() {
    if (cleared) return;
    Uri next = gate.finished();
    if (next != null) start(next);
  }

  @Override
  protected void onCleared() {
    cleared = true;
    TorchThread.submit(
        () -> {
          if (model != null) {
            model.destroy();
            model = null;
          }
        });
  }
}
