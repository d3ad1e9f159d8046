package dev.edgepack.demo;

import android.app.Application;
import android.util.Log;
import androidx.annotation.NonNull;
import androidx.lifecycle.AndroidViewModel;
import androidx.lifecycle.LiveData;
import androidx.lifecycle.MutableLiveData;
import dev.edgepack.demo.core.BenchmarkProtocol;
import dev.edgepack.demo.core.BenchmarkResult;
import dev.edgepack.demo.core.Hashing;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.Json;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.Postprocess;
import dev.edgepack.demo.core.TestImage;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import org.pytorch.Tensor;

/** Runs the on-device benchmark on {@link TorchThread} and keeps its result across rotation. */
public final class BenchmarkViewModel extends AndroidViewModel {
  /** Logcat tag; the result is logged as one line "BENCH_JSON {...}". */
  static final String TAG = "EdgepackBench";
  /** The last result is also written to files/bench.json (`adb shell run-as ... cat`). */
  static final String RESULT_FILE = "bench.json";

  /** Benchmark settings. */
  static final class Config {
    final int warmup;
    final int runs;
    final int threads;
    final int width;
    final int height;

    Config(int warmup, int runs, int threads, int width, int height) {
      this.warmup = warmup;
      this.runs = runs;
      this.threads = threads;
      this.width = width;
      this.height = height;
    }
  }

  /** What the screen shows. */
  static final class State {
    final boolean running;
    final int progress; // 0..1000
    final String status;
    final String resultText;
    final String json;
    final String error;

    State(boolean running, int progress, String status, String resultText, String json, String error) {
      this.running = running;
      this.progress = progress;
      this.status = status;
      this.resultText = resultText;
      this.json = json;
      this.error = error;
    }

    static State idle() {
      return new State(false, 0, null, null, null, null);
    }
  }

  private final MutableLiveData<State> state = new MutableLiveData<>(State.idle());

  public BenchmarkViewModel(@NonNull Application application) {
    super(application);
  }

  LiveData<State> state() {
    return state;
  }

  boolean isRunning() {
    State s = state.getValue();
    return s != null && s.running;
  }

  /** Starts a benchmark unless one is running. Call on the UI thread. */
  void start(Config config) {
    if (isRunning()) return;
    state.setValue(new State(true, 0, "Loading the model…", null, null, null));
    TorchThread.submit(() -> run(config));
  }

  private void run(Config c) {
    Application app = getApplication();
    final LoadedModel[] loaded = new LoadedModel[1];
    final float[][] lastOutput = new float[1][];
    try {
      File file = ModelFiles.ensureModelFile(app);
      final LoadedModel.Precheck precheck = LoadedModel.precheck(file);
      if (precheck.manifest != null) {
        checkTestImage(precheck.manifest, c);
      }
      LoadedModel.initRuntime(c.threads); // native libraries load here, outside load_ms
      final Tensor input = Tensors.fromRgba(TestImage.rgba(c.width, c.height), c.width, c.height);
      final int total = c.warmup + c.runs;

      BenchmarkProtocol.Measurement m =
          BenchmarkProtocol.measure(
              () -> {
                LoadedModel model = LoadedModel.loadChecked(file, precheck, c.threads);
                loaded[0] = model;
                return () -> lastOutput[0] = model.forward(input);
              },
              c.warmup,
              c.runs,
              System::nanoTime,
              (phase, done, of) -> {
                int progressed;
                String text;
                switch (phase) {
                  case "load":
                    progressed = 0;
                    text = "Loading the model…";
                    break;
                  case "first":
                    progressed = 0;
                    text = "First inference…";
                    break;
                  case "warmup":
                    progressed = done;
                    text = String.format(Locale.ROOT, "Warm-up %d/%d", done, of);
                    break;
                  default:
                    progressed = c.warmup + done;
                    text = String.format(Locale.ROOT, "Timed run %d/%d", done, of);
                }
                state.postValue(
                    new State(true, total == 0 ? 0 : progressed * 1000 / total, text, null, null, null));
              });

      Manifest manifest = loaded[0].getManifest();
      if (precheck.manifest == null) {
        checkTestImage(manifest, c);
      }
      String problem = Postprocess.outputProblem(lastOutput[0].length, manifest);
      if (problem != null) {
        throw new IllegalStateException(problem);
      }

      state.postValue(new State(true, 1000, "Hashing the model file…", null, null, null));
      String sha256;
      try (InputStream in = new FileInputStream(file)) {
        sha256 = Hashing.sha256Hex(in);
      }

      BenchmarkResult result =
          BenchmarkResult.builder()
              .loadMs(m.loadMs)
              .firstInferenceMs(m.firstInferenceMs)
              .timings(m.runsMs)
              .warmup(c.warmup)
              .threads(c.threads)
              .device(DeviceInfo.describe())
              .fileSizeBytes(file.length())
              .modelSha256(sha256)
              .extra("input_shape", Arrays.asList(c.height, c.width, 4))
              .extra("page_size_bytes", DeviceInfo.pageSize())
              .extra("quantization", manifest.getQuantizationMode())
              .extra("edgepack_version", manifest.getEdgepackVersion())
              .build();
      String json = result.toJson();
      Log.i(TAG, "BENCH_JSON " + Json.write(result.toMap()));
      save(new File(app.getFilesDir(), RESULT_FILE), json);
      state.postValue(new State(false, 1000, null, result.toDisplayText(), json, null));
    } catch (ModelUnavailableException | ImageSizing.ImageSizeException e) {
      state.postValue(new State(false, 0, null, null, null, e.getMessage()));
    } catch (OutOfMemoryError e) {
      state.postValue(new State(false, 0, null, null, null, "Out of memory: " + e.getMessage()));
    } catch (Exception e) {
      Log.w(TAG, "benchmark failed", e);
      state.postValue(new State(false, 0, null, null, null, "Benchmark failed: " + e));
    } finally {
      if (loaded[0] != null) {
        loaded[0].destroy();
      }
    }
  }

  /** The synthetic image must fit the model's input limits as is (no app-side scaling). */
  private static void checkTestImage(Manifest manifest, Config c) throws ImageSizing.ImageSizeException {
    ImageSizing.Plan plan = ImageSizing.plan(c.width, c.height, manifest.getInput(), 0);
    if (plan.scaled) {
      throw new ImageSizing.ImageSizeException(
          "The test image " + c.width + "×" + c.height + " is larger than the model accepts.");
    }
  }

  private static void save(File f, String text) {
    try (OutputStream out = new FileOutputStream(f)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
      out.write('\n');
    } catch (IOException e) {
      Log.w(TAG, "could not write " + f, e);
    }
  }
}
