package dev.edgepack.demo;

import android.os.Build;
import android.system.Os;
import android.system.OsConstants;
import dev.edgepack.demo.core.ModelFormat;

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

  /** A message for a failure to load a runtime's native libraries. */
  static String nativeLibraryMessage(ModelFormat runtime, Throwable error) {
    long page = pageSize();
    StringBuilder sb =
        new StringBuilder("The ")
            .append(runtime.displayName)
            .append(" native library (")
            .append(runtime.runtimeName())
            .append(") could not be loaded on this device");
    if (runtime == ModelFormat.PTL && page > 4096) {
      sb.append(": this device uses ")
          .append(page / 1024)
          .append(" KB memory pages, and the library's .so files are only aligned for 4 KB pages."
              + " Use model.pte with the ExecuTorch runtime instead (see android_demo/README.md,"
              + " \"16 KB memory pages\").");
    } else {
      sb.append(" (").append(ModelUnavailableException.firstLine(String.valueOf(error))).append(").");
      if (BuildConfig.RUNTIMES.contains(",")) {
        // the "both" variant packs one libfbjni.so / libc++_shared.so for two runtimes
        sb.append(" This build contains both runtimes, which share one copy of libfbjni.so and"
            + " libc++_shared.so; if one runtime fails to load here, build the \"")
            .append(runtime.jsonName)
            .append("\" variant, which has only that runtime (see android_demo/README.md).");
      }
    }
    return sb.toString();
  }
}
