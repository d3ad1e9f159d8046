package dev.edgepack.demo;

import android.content.Context;
import android.content.SharedPreferences;

/** Small persisted settings shared by both screens. */
final class Settings {
  /**
   * One thread by default: XNNPACK's thread pool and the OpenMP workers of aten ops spin against
   * each other when both have several threads, and edgepack's desktop bench uses one thread too,
   * so on-device and desktop numbers compare. Changeable on the benchmark screen.
   */
  static final int DEFAULT_THREADS = 1;

  static final int MAX_THREADS = 16;

  private static final String PREFS = "edgepack_demo";
  private static final String KEY_THREADS = "threads";

  private Settings() {}

  private static SharedPreferences prefs(Context context) {
    return context.getApplicationContext().getSharedPreferences(PREFS, Context.MODE_PRIVATE);
  }

  static int threads(Context context) {
    int n = prefs(context).getInt(KEY_THREADS, DEFAULT_THREADS);
    return Math.max(1, Math.min(MAX_THREADS, n));
  }

  static void setThreads(Context context, int threads) {
    prefs(context).edit().putInt(KEY_THREADS, threads).apply();
  }
}
