package dev.edgepack.demo;

import android.os.Build;
import android.system.Os;
import android.system.OsConstants;

/** Device description for benchmark results and messages. */
final class DeviceInfo {
  private DeviceInfo() {}

  /** e.g. "Google Pixel 8 (Android 15, API 35, arm64-v8a)". */
  static String describe() {
    String abi = Build.SUPPORTED_ABIS.length > 0 ? Build.SUPPORTED_ABIS[0] : "unknown ABI";
    return Build.MANUFACTURER
        + " "
        + Build.MODEL
        + " (Android "
        + Build.VERSION.RELEASE
        + ", API "
        + Build.VERSION.SDK_INT
        + ", "
        + abi
        + ")";
  }

  /** Memory page size in bytes: 4096 on most devices, 16384 on 16 KB-page devices. */
  static long pageSize() {
    try {
      return Os.sysconf(OsConstants._SC_PAGESIZE);
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** A message for a failure to load PyTorch's native libraries. */
  static String nativeLibraryMessage(Throwable error) {
    long page = pageSize();
    StringBuilder sb =
        new StringBuilder(
            "The PyTorch native library (pytorch_android_lite 2.1.0) could not be loaded on this"
                + " device");
    if (page > 4096) {
      sb.append(": this device uses ")
          .append(page / 1024)
          .append(" KB memory pages, and the library's .so files are only aligned for 4 KB pages."
              + " See android_demo/README.md, \"Known limits\".");
    } else {
      sb.append(" (").append(error).append(").");
    }
    return sb.toString();
  }
}
