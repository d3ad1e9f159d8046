package dev.edgepack.demo.core;

import static dev.edgepack.demo.core.ModelFormat.PTE;
import static dev.edgepack.demo.core.ModelFormat.PTL;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import org.junit.Test;

public class RuntimeSelectionTest {
  private static final List<ModelFormat> BOTH = Arrays.asList(PTE, PTL);

  @Test
  public void bothFilesBothRuntimes() {
    RuntimeSelection s = RuntimeSelection.of(BOTH, BOTH, null);
    assertEquals(BOTH, s.getUsable());
    assertEquals(PTE, s.getActive()); // ExecuTorch by default
    assertTrue(s.canSwitch());
    assertTrue(s.getNotes().isEmpty());
    assertNull(s.getProblem());

    assertEquals(PTL, RuntimeSelection.of(BOTH, BOTH, PTL).getActive()); // the user's choice
    assertEquals(PTL, s.switchTo(PTL).getActive());
    assertEquals(PTE, s.switchTo(PTL).switchTo(PTE).getActive());
    assertSame(s, s.switchTo(null));
  }

  @Test
  public void oneFilePresent() {
    RuntimeSelection onlyPtl = RuntimeSelection.of(Collections.singleton(PTL), BOTH, PTE);
    assertEquals(PTL, onlyPtl.getActive()); // preference not available: the file that is there
    assertFalse(onlyPtl.canSwitch());
    assertSame(onlyPtl, onlyPtl.switchTo(PTE)); // can't switch to a missing file

    RuntimeSelection onlyPte = RuntimeSelection.of(Collections.singleton(PTE), BOTH, PTL);
    assertEquals(PTE, onlyPte.getActive());
    assertFalse(onlyPte.canSwitch());
  }

  @Test
  public void pteOnlyBuildIgnoresPtlWithANote() {
    RuntimeSelection s = RuntimeSelection.of(BOTH, Collections.singleton(PTE), PTL);
    assertEquals(Collections.singletonList(PTE), s.getUsable());
    assertEquals(PTE, s.getActive());
    assertFalse(s.canSwitch());
    assertEquals(1, s.getNotes().size());
    String note = s.getNotes().get(0);
    assertTrue(note, note.contains("assets/model.ptl"));
    assertTrue(note, note.contains("leaves the PyTorch Lite runtime out"));
    assertTrue(note, note.contains("\"both\" or \"ptl\" variant"));
  }

  @Test
  public void noUsableFile() {
    RuntimeSelection none = RuntimeSelection.of(EnumSet.noneOf(ModelFormat.class), BOTH, null);
    assertNull(none.getActive());
    assertTrue(none.getUsable().isEmpty());
    String p = none.getProblem();
    assertTrue(p, p.startsWith("No model: the app has no assets/model.pte or assets/model.ptl"));
    assertTrue(p, p.contains(PTE.buildCommand()));
    assertTrue(p, p.contains(PTL.buildCommand()));

    // a pte-only build with only a .ptl in its assets
    RuntimeSelection wrong = RuntimeSelection.of(Collections.singleton(PTL), Collections.singleton(PTE), null);
    assertNull(wrong.getActive());
    p = wrong.getProblem();
    assertTrue(p, p.startsWith("No model: the app has no assets/model.pte that this build can run."));
    assertTrue(p, p.contains("leaves the PyTorch Lite runtime out"));
    assertTrue(p, p.contains(PTE.buildCommand()));
    assertFalse(p, p.contains(PTL.buildCommand()));

    RuntimeSelection ptlBuild = RuntimeSelection.of(Collections.singleton(PTE), Collections.singleton(PTL), null);
    assertTrue(ptlBuild.getProblem(), ptlBuild.getProblem().contains("\"both\" or \"pte\" variant"));
  }

  @Test(expected = IllegalArgumentException.class)
  public void buildWithoutRuntimeIsAnError() {
    RuntimeSelection.of(BOTH, EnumSet.noneOf(ModelFormat.class), null);
  }
}
