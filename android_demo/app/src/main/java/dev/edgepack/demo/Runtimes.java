package dev.edgepack.demo;

import android.content.Context;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.RuntimeSelection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;

/** The runtimes this build variant contains (see {@code BuildRuntimes}) and which one to use. */
final class Runtimes {
  private static Map<ModelFormat, ModelRuntime> all;

  private Runtimes() {}

  /** This build's runtimes by format (ExecuTorch first). */
  static synchronized Map<ModelFormat, ModelRuntime> inBuild() {
    if (all == null) {
      Map<ModelFormat, ModelRuntime> m = new EnumMap<>(ModelFormat.class);
      for (ModelRuntime r : BuildRuntimes.create()) m.put(r.format(), r);
      all = Collections.unmodifiableMap(m);
    }
    return all;
  }

  static ModelRuntime get(ModelFormat format) {
    ModelRuntime r = inBuild().get(format);
    if (r == null) throw new IllegalArgumentException(format + " is not in this build");
    return r;
  }

  /** Which model files are present and runnable; call off the UI thread (reads the asset list). */
  static RuntimeSelection select(Context context, ModelFormat preferred) {
    Set<ModelFormat> present = ModelFiles.presentInAssets(context);
    return RuntimeSelection.of(present, inBuild().keySet(), preferred);
  }
}
