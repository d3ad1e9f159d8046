package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The outcome of checking a manifest against what this app supports. */
public final class ManifestCheck {
  private final List<ManifestIssue> issues;

  ManifestCheck(List<ManifestIssue> issues) {
    this.issues = Collections.unmodifiableList(new ArrayList<>(issues));
  }

  /** True when there is no error (warnings allowed). */
  public boolean isCompatible() {
    return getErrors().isEmpty();
  }

  public List<ManifestIssue> getIssues() {
    return issues;
  }

  public List<ManifestIssue> getErrors() {
    List<ManifestIssue> out = new ArrayList<>();
    for (ManifestIssue i : issues) if (i.isError()) out.add(i);
    return out;
  }

  public List<ManifestIssue> getWarnings() {
    List<ManifestIssue> out = new ArrayList<>();
    for (ManifestIssue i : issues) if (!i.isError()) out.add(i);
    return out;
  }

  public boolean has(ManifestIssue.Code code) {
    for (ManifestIssue i : issues) if (i.getCode() == code) return true;
    return false;
  }

  /**
   * A message to show the user: the errors when incompatible, otherwise the warnings; empty when
   * there is nothing to say.
   */
  public String userMessage() {
    List<ManifestIssue> shown = isCompatible() ? getWarnings() : getErrors();
    if (shown.isEmpty()) return "";
    StringBuilder sb = new StringBuilder();
    if (!isCompatible()) {
      sb.append("This model can't be used by the demo app:");
    } else {
      sb.append("Note:");
    }
    for (ManifestIssue i : shown) {
      sb.append("\n• ").append(i.getMessage());
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return "ManifestCheck" + issues;
  }
}
