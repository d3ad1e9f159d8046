package dev.edgepack.demo;

import android.app.Application;
import android.graphics.Bitmap;
import android.net.Uri;
import androidx.annotation.NonNull;
import androidx.lifecycle.AndroidViewModel;
import androidx.lifecycle.LiveData;
import androidx.lifecycle.MutableLiveData;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.LabelFormat;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.Prediction;
import java.io.IOException;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Holds the loaded model across configuration changes; all model work on {@link TorchThread}. */
public final class MainViewModel extends AndroidViewModel {

  /** State of the model. */
  static final class ModelState {
    final boolean loading;
    final boolean ready;
    final String summary;
    final String note;
    final String error;

    ModelState(boolean loading, boolean ready, String summary, String note, String error) {
      this.loading = loading;
      this.ready = ready;
      this.summary = summary;
      this.note = note;
      this.error = error;
    }
  }

  /** State of the current classification. */
  static final class ResultState {
    final boolean busy;
    final Bitmap image;
    final List<Prediction> top;
    final String timing;
    final String note;
    final String error;

    ResultState(
        boolean busy, Bitmap image, List<Prediction> top, String timing, String note, String error) {
      this.busy = busy;
      this.image = image;
      this.top = top;
      this.timing = timing;
      this.note = note;
      this.error = error;
    }

    static ResultState empty() {
      return new ResultState(false, null, Collections.<Prediction>emptyList(), null, null, null);
    }
  }

  private final MutableLiveData<ModelState> modelState =
      new MutableLiveData<>(new ModelState(true, false, null, null, null));
  private final MutableLiveData<ResultState> resultState =
      new MutableLiveData<>(ResultState.empty());

  /** Touched only on the torch thread. */
  private LoadedModel model;

  public MainViewModel(@NonNull Application application) {
    super(application);
    TorchThread.submit(this::loadModel);
  }

  LiveData<ModelState> modelState() {
    return modelState;
  }

  LiveData<ResultState> resultState() {
    return resultState;
  }

  /** Classifies the image at {@code uri} in the background. Call on the UI thread. */
  void classify(Uri uri) {
    ModelState ms = modelState.getValue();
    ResultState current = resultState.getValue();
    if (ms == null || !ms.ready || (current != null && current.busy)) {
      return;
    }
    resultState.setValue(
        new ResultState(
            true,
            current == null ? null : current.image,
            Collections.<Prediction>emptyList(),
            null,
            null,
            null));
    TorchThread.submit(() -> runClassification(uri));
  }

  private void loadModel() {
    Application app = getApplication();
    try {
      LoadedModel m = LoadedModel.load(app, Settings.threads(app));
      model = m;
      Manifest manifest = m.getManifest();
      String summary =
          manifest.describe()
              + String.format(Locale.ROOT, "\nloaded in %s", LabelFormat.millis(m.getLoadMs()));
      String warnings = manifest.check().userMessage();
      modelState.postValue(
          new ModelState(false, true, summary, warnings.isEmpty() ? null : warnings, null));
    } catch (ModelUnavailableException e) {
      modelState.postValue(new ModelState(false, false, null, null, e.getMessage()));
    } catch (RuntimeException | OutOfMemoryError e) {
      modelState.postValue(
          new ModelState(false, false, null, null, "Loading the model failed: " + e));
    }
  }

  private void runClassification(Uri uri) {
    Application app = getApplication();
    Bitmap bitmap = null;
    try {
      LoadedModel m = model;
      if (m == null) {
        throw new IllegalStateException("the model is not loaded");
      }
      bitmap = ImageLoader.decode(app.getContentResolver(), uri, m.getManifest().getInput());
      int threads = Settings.threads(app);
      LoadedModel.setThreads(threads);
      LoadedModel.Classification c = m.classify(bitmap);
      String timing =
          String.format(
              Locale.ROOT,
              "inference %s (model incl. its preprocessing) · image prep %s · input %d×%d%s · %d thread%s",
              LabelFormat.millis(c.inferenceMs),
              LabelFormat.millis(c.prepareMs),
              c.width,
              c.height,
              c.scaled ? " (downscaled)" : "",
              threads,
              threads == 1 ? "" : "s");
      resultState.postValue(new ResultState(false, bitmap, c.top, timing, m.resultNote(), null));
    } catch (ImageSizing.ImageSizeException e) {
      resultState.postValue(new ResultState(false, bitmap, Collections.<Prediction>emptyList(), null, null, e.getMessage()));
    } catch (IOException e) {
      resultState.postValue(
          new ResultState(
              false, null, Collections.<Prediction>emptyList(), null, null,
              "The image could not be read: " + e.getMessage()));
    } catch (OutOfMemoryError e) {
      resultState.postValue(
          new ResultState(
              false, null, Collections.<Prediction>emptyList(), null, null,
              "Not enough memory for this image."));
    } catch (RuntimeException e) {
      resultState.postValue(
          new ResultState(
              false, bitmap, Collections.<Prediction>emptyList(), null, null,
              "Inference failed: " + e.getMessage()));
    }
  }

  @Override
  protected void onCleared() {
    TorchThread.submit(
        () -> {
          if (model != null) {
            model.destroy();
            model = null;
          }
        });
  }
}
