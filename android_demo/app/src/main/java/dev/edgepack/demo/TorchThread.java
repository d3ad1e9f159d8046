package dev.edgepack.demo;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The one background thread that does all PyTorch work (loading, inference, benchmarks) for the
 * whole app. Never the UI thread; one at a time, so a loaded Module is only touched by this
 * thread, and the main screen and the benchmark never compete for cores or thread settings.
 */
final class TorchThread {
  private static final ExecutorService EXECUTOR =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "edgepack-torch");
            t.setDaemon(true);
            return t;
          });

  private TorchThread() {}

  static void submit(Runnable task) {
    EXECUTOR.execute(task);
  }
}
