package dev.edgepack.demo;

import android.app.Application;
import android.util.Log;
import androidx.annotation.NonNull;
import androidx.lifecycle.AndroidViewModel;
import androidx.lifecycle.LiveData;
import androidx.lifecycle.MutableLiveData;
import dev.edgepack.demo.core.BenchmarkProtocol;
import dev.edgepack.demo.core.BenchmarkReport;
import dev.edgepack.demo.core.BenchmarkResult;
import dev.edgepack.demo.core.BenchmarkSuite;
import dev.edgepack.demo.core.CancelFlag;
import dev.edgepack.demo.core.Hashing;
import dev.edgepack.demo.core.ImageSizing;
import dev.edgepack.demo.core.Json;
import dev.edgepack.demo.core.Manifest;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.ModelOutput;
import dev.edgepack.demo.core.OutputCheck;
import dev.edgepack.demo.core.RuntimeSelection;
import dev.edgepack.demo.core.TestImage;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Runs the on-device benchmark on {@link TorchThread} and keeps its result across rotation. With
 * both model files (and the "both" build variant) it measures ExecuTorch and PyTorch Lite one
 * after the other with the same protocol, input and thread count, and reports them side by side.
 *
 * <p>The benchmark stops when its screen goes away ({@link #onCleared}) or on Stop: the protocol
 * polls a {@link CancelFlag} after every inference and releases the benchmark's model copy.
 */
public final class BenchmarkViewModel extends AndroidViewModel {
  /** Logcat tag; each runtime's result is logged as one line "BENCH_JSON {...}". */
  static final String TAG = "EdgepackBench";
  /** The last report (JSON) is also written to files/bench.json (`adb shell run-as ... cat`). */
  static final String RESULT_FILE = "bench.json";

  /** Benchmark settings. */
  static final class Config {
    final int warmup;
    final int runs;
    final int threads;
    final int width;
    final int height;
    /** The runtimes to measure, in this order. */
    final List<ModelFormat> runtimes;

    Config(int warmup, int runs, int threads, int width, int height, List<ModelFormat> runtimes) {
      this.warmup = warmup;
      this.runs = runs;
      this.threads = threads;
      this.width = width;
      this.height = height;
      this.runtimes = Collections.unmodifiableList(new ArrayList<>(runtimes));
    }
  }

  /** What the screen can offer, read off the UI thread. */
  static final class Options {
    /** The stored thread count (the default for the Threads field). */
    final int threads;
    /** Runtimes whose model file is present and which this build contains (ExecuTorch first). */
    final List<ModelFormat> usable;
    /** Why nothing can be measured, or null. */
    final String problem;

    Options(int threads, List<ModelFormat> usable, String problem) {
      this.threads = threads;
      this.usable = usable;
      this.problem = problem;
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
  private final MutableLiveData<Options> options = new MutableLiveData<>();
  /** The running benchmark's flag (UI thread writes, torch thread reads). */
  private volatile CancelFlag cancel;

  public BenchmarkViewModel(@NonNull Application application) {
    super(application);
    Application app = application;
    TorchThread.io(
        () -> {
          Settings.Values v = Settings.read(app);
          RuntimeSelection sel = Runtimes.select(app, v.runtime);
          options.postValue(new Options(v.threads, sel.getUsable(), sel.getProblem()));
        });
  }

  LiveData<State> state() {
    return state;
  }

  LiveData<Options> options() {
    return options;
  }

  boolean isRunning() {
    State s = state.getValue();
    return s != null && s.running;
  }

  /** Starts a benchmark unless one is running. Call on the UI thread. */
  void start(Config config) {
    if (isRunning() || config.runtimes.isEmpty()) return;
    Settings.setThreads(getApplication(), config.threads);
    CancelFlag flag = new CancelFlag();
    cancel = flag;
    state.setValue(new State(true, 0, "Waiting for the model thread…", null, null, null));
    TorchThread.submit(() -> run(config, flag));
  }

  /** Stops the running benchmark after its current inference. Call on the UI thread. */
  void stop() {
    CancelFlag flag = cancel;
    if (flag != null) flag.cancel();
  }

  /** The screen went away for good: don't leave up to 200,000 runs queued on the model thread. */
  @Override
  protected void onCleared() {
    stop();
  }

  /** One runtime to measure, prepared (file copied, native code loaded) outside the timing. */
  private final class RuntimeTarget implements BenchmarkSuite.Target {
    final ModelRuntime runtime;
    final Config config;
    final ByteBuffer input;
    File file;
    Manifest manifest;
    /** The last run's output, copied out of the runtime after the timed runs (see close()). */
    ModelOutput lastOutput;
    /** Why the last output could not be read, or null. */
    String outputError;

    RuntimeTarget(ModelRuntime runtime, Config config, ByteBuffer input) {
      this.runtime = runtime;
      this.config = config;
      this.input = input;
    }

    @Override
    public String name() {
      return runtime.format().displayName;
    }

    @Override
    public BenchmarkProtocol.Loader loader() throws Exception {
      file = ModelFiles.ensureModelFile(getApplication(), runtime.format());
      Manifest pre = runtime.precheck(file);
      if (pre != null) checkTestImage(pre, config);
      runtime.init(config.threads); // native libraries load here, outside load_ms
      return () -> {
        ModelRuntime.Session session = runtime.load(file, pre, config.threads);
        try {
          checkTestImage(session.manifest(), config);
        } catch (ImageSizing.ImageSizeException e) {
          session.destroy();
          throw e;
        }
        manifest = session.manifest();
        return new BenchmarkProtocol.Session() {
          /** Not copied per run: the timing covers forward alone, not copying its output. */
          ModelRuntime.Output last;

          @Override
          public void runOnce() {
            last = session.forward(input, config.width, config.height);
          }

          @Override
          public void close() {
            try {
              // before destroy: an ExecuTorch output lives in the program's memory
              if (last != null) lastOutput = last.copy();
            } catch (RuntimeException e) {
              outputError = "its output could not be read: " + e.getMessage();
            } finally {
              last = null;
              session.destroy();
            }
          }
        };
      };
    }
  }

  private void run(Config c, CancelFlag flag) {
    Application app = getApplication();
    try {
      flag.throwIfCancelled(); // the screen may be gone before the model thread got here
      ByteBuffer input = RgbaBuffers.fromRgba(TestImage.rgba(c.width, c.height), c.width, c.height);
      List<RuntimeTarget> targets = new ArrayList<>();
      for (ModelFormat f : c.runtimes) targets.add(new RuntimeTarget(Runtimes.get(f), c, input));

      List<BenchmarkSuite.Outcome<RuntimeTarget>> outcomes =
          BenchmarkSuite.run(
              targets,
              c.warmup,
              c.runs,
              System::nanoTime,
              (i, name, phase, done, total, permille) ->
                  state.postValue(
                      new State(true, permille, statusText(name, phase, done, total, targets.size()),
                          null, null, null)),
              flag);

      state.postValue(new State(true, 1000, "Hashing the model files…", null, null, null));
      List<BenchmarkResult> results = new ArrayList<>();
      List<String> labels = new ArrayList<>();
      List<String> failures = new ArrayList<>();
      for (BenchmarkSuite.Outcome<RuntimeTarget> o : outcomes) {
        RuntimeTarget t = o.target;
        if (!o.ok()) {
          failures.add(t.name() + ": not measured. " + messageOf(o.error));
          if (!(o.error instanceof ModelUnavailableException || o.error instanceof ImageSizing.ImageSizeException)) {
            Log.w(TAG, t.name() + " benchmark failed", o.error);
          }
          continue;
        }
        String problem = t.outputError != null
            ? t.outputError
            : OutputCheck.problem(t.lastOutput, t.manifest, c.width, c.height);
        if (problem != null) {
          failures.add(t.name() + ": " + problem);
          continue;
        }
        BenchmarkResult r = result(t, o.measurement, c);
        Log.i(TAG, "BENCH_JSON " + Json.write(r.toMap()));
        results.add(r);
        labels.add(t.name());
      }
      String text = BenchmarkReport.sideBySide(results, labels, failures);
      if (results.isEmpty()) {
        state.postValue(new State(false, 0, null, null, null, text));
        return;
      }
      String json = BenchmarkReport.toJson(results);
      save(new File(app.getFilesDir(), RESULT_FILE), json);
      state.postValue(new State(false, 1000, null, text, json, null));
    } catch (CancelFlag.CancelledException e) {
      state.postValue(new State(false, 0, "Benchmark stopped.", null, null, null));
    } catch (OutOfMemoryError e) {
      state.postValue(new State(false, 0, null, null, null, "Out of memory: " + e.getMessage()));
    } catch (Exception e) {
      Log.w(TAG, "benchmark failed", e);
      state.postValue(new State(false, 0, null, null, null, "Benchmark failed: " + e));
    } finally {
      if (cancel == flag) cancel = null;
    }
  }

  private static String statusText(String name, String phase, int done, int total, int targets) {
    String prefix = targets > 1 ? name + ": " : "";
    switch (phase) {
      case "load":
        return prefix + "loading the model…";
      case "first":
        return prefix + "first inference…";
      case "warmup":
        return prefix + String.format(Locale.ROOT, "warm-up %d/%d", done, total);
      default:
        return prefix + String.format(Locale.ROOT, "timed run %d/%d", done, total);
    }
  }

  private static String messageOf(Exception e) {
    if (e instanceof ModelUnavailableException || e instanceof ImageSizing.ImageSizeException) {
      return e.getMessage();
    }
    return String.valueOf(e);
  }

  private static BenchmarkResult result(RuntimeTarget t, BenchmarkProtocol.Measurement m, Config c)
      throws IOException {
    String sha256;
    try (InputStream in = new FileInputStream(t.file)) {
      sha256 = Hashing.sha256Hex(in);
    }
    ModelFormat f = t.runtime.format();
    BenchmarkResult.Builder b =
        BenchmarkResult.builder()
            .runtime(f.runtimeName())
            .loadMs(m.loadMs)
            .firstInferenceMs(m.firstInferenceMs)
            .timings(m.runsMs)
            .warmup(c.warmup)
            .threads(c.threads)
            .device(DeviceInfo.describe())
            .fileSizeBytes(t.file.length())
            .modelSha256(sha256)
            .extra("format", f.jsonName)
            .extra("model", f.assetName())
            .extra("input_kind", "image")
            .extra("input_shape", Arrays.asList(c.height, c.width, 4))
            .extra("input_dtype", "uint8")
            .extra("page_size_bytes", DeviceInfo.pageSize())
            .extra("quantization", t.manifest.getQuantizationMode())
            .extra("edgepack_version", t.manifest.getEdgepackVersion());
    if (f == ModelFormat.PTE) {
      b.extra("load_mode", "mmap").extra("executorch_version", t.manifest.getExecutorchVersion());
    }
    return b.build();
  }

  /** The synthetic image must fit the model's input limits as is (no app-side scaling). */
  private static void checkTestImage(Manifest manifest, Config c) throws ImageSizing.ImageSizeException {
    ImageSizing.Plan plan = ImageSizing.plan(c.width, c.height, manifest.getInput(), 0);
    if (plan.scaled) {
      throw new ImageSizing.ImageSizeException(
          "The test image " + c.width + "×" + c.height + " is larger than this model accepts ("
              + manifest.getInput().getMaxSide() + " px per side).");
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
