package dev.edgepack.demo;

import android.os.Handler;
import android.os.Looper;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The one background thread that does all model work (loading, inference, benchmarks) for both
 * runtimes and the whole app. Never the UI thread; one task at a time, so a loaded model is only
 * touched by this thread, the two runtimes never run at the same time, and the main screen and
 * the benchmark never compete for cores or thread settings. Also: a second thread for small disk
 * work (settings), and a way back to the UI thread.
 */
final class TorchThread {
  private static final ExecutorService EXECUTOR =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "edgepack-torch");
            t.setDaemon(true);
            return t;
          });

  /** SharedPreferences reads and writes: never on the UI thread, never behind a benchmark. */
  private static final ExecutorService IO =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "edgepack-io");
            t.setDaemon(true);
            return t;
          });

  private static final Handler MAIN = new Handler(Looper.getMainLooper());

  private TorchThread() {}

  static void submit(Runnable task) {
    EXECUTOR.execute(task);
  }

  static void io(Runnable task) {
    IO.execute(task);
  }

  static void onMainThread(Runnable task) {
    MAIN.post(task);
  }
}
