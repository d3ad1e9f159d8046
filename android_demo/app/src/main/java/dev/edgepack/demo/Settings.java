package dev.edgepack.demo;

import android.content.Context;
import android.content.SharedPreferences;
import dev.edgepack.demo.core.ModelFormat;

/**
 * Small persisted settings shared by both screens: the thread count and the runtime the user
 * chose. SharedPreferences load their file on first use, so every read and write here happens off
 * the UI thread: the getters are for background threads, {@link #load} and the setters hop to
 * {@link TorchThread#io} themselves.
 */
final class Settings {
  /**
   * One thread by default: XNNPACK's thread pool and the OpenMP workers of aten ops spin against
   * each other when both have several threads (PyTorch Lite), and edgepack's desktop bench uses
   * one thread too, so on-device and desktop numbers compare. Changeable on the benchmark screen.
   */
  static final int DEFAULT_THREADS = 1;

  static final int MAX_THREADS = 16;

  private static final String PREFS = "edgepack_demo";
  private static final String KEY_THREADS = "threads";
  private static final String KEY_RUNTIME = "runtime";

  private Settings() {}

  /** The values, read together. */
  static final class Values {
    final int threads;
    /** The runtime the user chose last, or null. */
    final ModelFormat runtime;

    Values(int threads, ModelFormat runtime) {
      this.threads = threads;
      this.runtime = runtime;
    }
  }

  /** Receives {@link Values} on the UI thread. */
  interface Callback {
    void onLoaded(Values values);
  }

  private static SharedPreferences prefs(Context context) {
    return context.getApplicationContext().getSharedPreferences(PREFS, Context.MODE_PRIVATE);
  }

  /** Reads the settings. Blocks on disk the first time: call on a background thread. */
  static Values read(Context context) {
    SharedPreferences p = prefs(context);
    int n = p.getInt(KEY_THREADS, DEFAULT_THREADS);
    return new Values(
        Math.max(1, Math.min(MAX_THREADS, n)), ModelFormat.fromJson(p.getString(KEY_RUNTIME, null)));
  }

  /** Reads the settings on the IO thread and delivers them on the UI thread. */
  static void load(Context context, Callback callback) {
    Context app = context.getApplicationContext();
    TorchThread.io(
        () -> {
          Values v = read(app);
          TorchThread.onMainThread(() -> callback.onLoaded(v));
        });
  }

  static void setThreads(Context context, int threads) {
    Context app = context.getApplicationContext();
    TorchThread.io(() -> prefs(app).edit().putInt(KEY_THREADS, threads).apply());
  }

  static void setRuntime(Context context, ModelFormat format) {
    Context app = context.getApplicationContext();
    TorchThread.io(() -> prefs(app).edit().putString(KEY_RUNTIME, format.jsonName).apply());
  }
}
