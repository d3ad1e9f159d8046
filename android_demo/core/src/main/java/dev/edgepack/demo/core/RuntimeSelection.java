package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Which runtime the app uses, from which model files are in its assets and which runtimes this
 * build of the app contains (the {@code both} variant has ExecuTorch and PyTorch Lite, {@code pte}
 * only ExecuTorch, {@code ptl} only PyTorch Lite): a file is usable when its runtime is in the
 * build. With two usable files the user may switch; the default is ExecuTorch (the maintained
 * runtime, the only one with 16 KB-page native libraries), or the user's last choice.
 */
public final class RuntimeSelection {
  private final List<ModelFormat> usable;
  private final ModelFormat active;
  private final List<String> notes;
  private final String problem;

  private RuntimeSelection(List<ModelFormat> usable, ModelFormat active, List<String> notes, String problem) {
    this.usable = Collections.unmodifiableList(usable);
    this.active = active;
    this.notes = Collections.unmodifiableList(notes);
    this.problem = problem;
  }

  /**
   * @param filesPresent formats whose asset file ({@link ModelFormat#assetName()}) the app has
   * @param runtimesInBuild formats whose runtime this build contains
   * @param preferred the user's choice, or null
   */
  public static RuntimeSelection of(
      Collection<ModelFormat> filesPresent, Collection<ModelFormat> runtimesInBuild, ModelFormat preferred) {
    Set<ModelFormat> files = filesPresent == null || filesPresent.isEmpty()
        ? EnumSet.noneOf(ModelFormat.class) : EnumSet.copyOf(filesPresent);
    Set<ModelFormat> runtimes = runtimesInBuild == null || runtimesInBuild.isEmpty()
        ? EnumSet.noneOf(ModelFormat.class) : EnumSet.copyOf(runtimesInBuild);
    if (runtimes.isEmpty()) throw new IllegalArgumentException("a build has at least one runtime");

    List<ModelFormat> usable = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (ModelFormat f : ModelFormat.values()) { // enum order = preference order
      if (!files.contains(f)) continue;
      if (runtimes.contains(f)) {
        usable.add(f);
      } else {
        notes.add("assets/" + f.assetName() + " is in the app, but this build leaves the "
            + f.displayName + " runtime out (" + variantsWith(f) + "); it is not used.");
      }
    }
    ModelFormat active = null;
    if (preferred != null && usable.contains(preferred)) {
      active = preferred;
    } else if (!usable.isEmpty()) {
      active = usable.get(0);
    }
    String problem = null;
    if (usable.isEmpty()) {
      StringBuilder sb = new StringBuilder("No model: the app has no ");
      List<ModelFormat> wanted = new ArrayList<>();
      for (ModelFormat f : ModelFormat.values()) if (runtimes.contains(f)) wanted.add(f);
      for (int i = 0; i < wanted.size(); i++) {
        if (i > 0) sb.append(" or ");
        sb.append("assets/").append(wanted.get(i).assetName());
      }
      sb.append(" that this build can run.");
      for (String note : notes) sb.append(' ').append(note);
      sb.append(" Build ").append(wanted.size() == 1 ? "it" : "one").append(" with edgepack and rebuild the app:");
      for (ModelFormat f : wanted) sb.append("\n  ").append(f.buildCommand());
      problem = sb.toString();
    }
    return new RuntimeSelection(usable, active, notes, problem);
  }

  private static String variantsWith(ModelFormat f) {
    return f == ModelFormat.PTL
        ? "build the \"both\" or \"ptl\" variant to run it"
        : "build the \"both\" or \"pte\" variant to run it";
  }

  /** Formats the app can run, in preference order (ExecuTorch first). */
  public List<ModelFormat> getUsable() {
    return usable;
  }

  /** The runtime to use now; null when nothing is usable (see {@link #getProblem()}). */
  public ModelFormat getActive() {
    return active;
  }

  /** True when the user can switch between two runtimes. */
  public boolean canSwitch() {
    return usable.size() > 1;
  }

  /** Notes for the user about files that are present but not used (empty when none). */
  public List<String> getNotes() {
    return notes;
  }

  /** Why no model can run (with what to do), or null when one can. */
  public String getProblem() {
    return problem;
  }

  /** This selection with {@code format} active; unchanged when it is not usable. */
  public RuntimeSelection switchTo(ModelFormat format) {
    if (format == null || !usable.contains(format) || format == active) return this;
    return new RuntimeSelection(new ArrayList<>(usable), format, new ArrayList<>(notes), problem);
  }

  @Override
  public String toString() {
    return "RuntimeSelection{usable=" + usable + ", active=" + active + "}";
  }
}
