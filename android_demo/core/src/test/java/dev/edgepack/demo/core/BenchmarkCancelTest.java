package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Test;

/** Benchmark cancellation (the screen going away) and the side-by-side suite. */
public class BenchmarkCancelTest {

  /** A fake model that counts inferences and whether it was closed. */
  private static final class FakeModel implements BenchmarkProtocol.Session {
    final AtomicInteger runs = new AtomicInteger();
    volatile boolean closed;
    Runnable onRun = () -> {};

    @Override
    public void runOnce() {
      runs.incrementAndGet();
      onRun.run();
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  private static final BenchmarkProtocol.Clock CLOCK = System::nanoTime;

  @Test
  public void cancelDuringWarmupStopsAfterTheCurrentRunAndClosesTheModel() throws Exception {
    FakeModel model = new FakeModel();
    CancelFlag cancel = new CancelFlag();
    model.onRun = () -> {
      if (model.runs.get() == 3) cancel.cancel(); // first + 2 warm-up
    };
    try {
      BenchmarkProtocol.measure(() -> model, 100_000, 100_000, CLOCK, null, cancel);
      fail("not cancelled");
    } catch (CancelFlag.CancelledException expected) {
      // stops before the next inference
    }
    assertEquals(3, model.runs.get());
    assertTrue("model released on cancel", model.closed);
  }

  @Test
  public void cancelDuringTimedRuns() throws Exception {
    FakeModel model = new FakeModel();
    CancelFlag cancel = new CancelFlag();
    List<String> progress = new ArrayList<>();
    model.onRun = () -> {
      if (model.runs.get() == 1 + 2 + 5) cancel.cancel();
    };
    try {
      BenchmarkProtocol.measure(() -> model, 2, 200_000, CLOCK, (p, d, t) -> progress.add(p + d), cancel);
      fail();
    } catch (CancelFlag.CancelledException expected) {
      // fine
    }
    assertEquals(8, model.runs.get());
    assertEquals("timed5", progress.get(progress.size() - 1));
    assertTrue(model.closed);
  }

  @Test
  public void cancelledBeforeStartNeverLoads() throws Exception {
    CancelFlag cancel = new CancelFlag();
    cancel.cancel();
    final boolean[] loaded = {false};
    try {
      BenchmarkProtocol.measure(() -> {
        loaded[0] = true;
        return new FakeModel();
      }, 1, 1, CLOCK, null, cancel);
      fail();
    } catch (CancelFlag.CancelledException expected) {
      // fine
    }
    assertFalse(loaded[0]);
  }

  @Test
  public void cancelDuringLoadClosesTheJustLoadedModel() throws Exception {
    CancelFlag cancel = new CancelFlag();
    FakeModel model = new FakeModel();
    try {
      BenchmarkProtocol.measure(() -> {
        cancel.cancel(); // e.g. onCleared while the native load ran
        return model;
      }, 1, 1, CLOCK, null, cancel);
      fail();
    } catch (CancelFlag.CancelledException expected) {
      // fine
    }
    assertEquals(0, model.runs.get());
    assertTrue(model.closed);
  }

  @Test
  public void modelClosedOnSuccessAndOnFailure() throws Exception {
    FakeModel ok = new FakeModel();
    BenchmarkProtocol.measure(() -> ok, 1, 2, CLOCK, null, new CancelFlag());
    assertTrue(ok.closed);
    assertEquals(4, ok.runs.get());

    FakeModel failing = new FakeModel();
    failing.onRun = () -> {
      throw new IllegalStateException("native error");
    };
    try {
      BenchmarkProtocol.measure(() -> failing, 1, 2, CLOCK, null, new CancelFlag());
      fail();
    } catch (IllegalStateException expected) {
      // fine
    }
    assertTrue(failing.closed);
  }

  /** Cancelling from another thread (the UI's onCleared) stops a long benchmark promptly. */
  @Test(timeout = 10_000)
  public void cancelFromAnotherThread() throws Exception {
    FakeModel model = new FakeModel();
    CancelFlag cancel = new CancelFlag();
    CountDownLatch started = new CountDownLatch(1);
    model.onRun = started::countDown;
    final Throwable[] thrown = {null};
    Thread worker = new Thread(() -> {
      try {
        BenchmarkProtocol.measure(() -> model, 100_000_000, 100_000_000, CLOCK, null, cancel);
      } catch (Throwable t) {
        thrown[0] = t;
      }
    });
    worker.start();
    assertTrue(started.await(5, TimeUnit.SECONDS));
    cancel.cancel();
    worker.join(5_000);
    assertFalse(worker.isAlive());
    assertTrue(String.valueOf(thrown[0]), thrown[0] instanceof CancelFlag.CancelledException);
    assertTrue(model.closed);
  }

  // ---------------------------------------------------------------- suite

  private static final class Target implements BenchmarkSuite.Target {
    final String name;
    final BenchmarkProtocol.Loader loader;

    Target(String name, BenchmarkProtocol.Loader loader) {
      this.name = name;
      this.loader = loader;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public BenchmarkProtocol.Loader loader() {
      return loader;
    }
  }

  @Test
  public void suiteMeasuresEachTargetWithTheSameProtocol() throws Exception {
    FakeModel a = new FakeModel();
    FakeModel b = new FakeModel();
    List<Integer> permille = new ArrayList<>();
    List<BenchmarkSuite.Outcome<Target>> out =
        BenchmarkSuite.run(
            Arrays.asList(new Target("ExecuTorch", () -> a), new Target("PyTorch Lite", () -> b)),
            2, 3, CLOCK, (i, n, phase, d, t, pm) -> permille.add(pm), new CancelFlag());
    assertEquals(2, out.size());
    for (BenchmarkSuite.Outcome<Target> o : out) {
      assertTrue(o.ok());
      assertNull(o.error);
      assertEquals(3, o.measurement.runsMs.length);
      assertEquals(2, o.measurement.warmup);
    }
    assertEquals(6, a.runs.get());
    assertEquals(6, b.runs.get());
    assertTrue(a.closed && b.closed);
    assertEquals("ExecuTorch", out.get(0).target.name());
    assertEquals(0, (int) permille.get(0));
    assertEquals(1000, (int) permille.get(permille.size() - 1));
    for (int i = 1; i < permille.size(); i++) assertTrue(permille.get(i) >= permille.get(i - 1));
  }

  @Test
  public void aFailingRuntimeDoesNotStopTheOther() throws Exception {
    FakeModel b = new FakeModel();
    List<BenchmarkSuite.Outcome<Target>> out =
        BenchmarkSuite.run(
            Arrays.asList(
                new Target("ExecuTorch", () -> {
                  throw new UnsupportedOperationException("native library did not load");
                }),
                new Target("PyTorch Lite", () -> b)),
            0, 1, CLOCK, null, new CancelFlag());
    assertFalse(out.get(0).ok());
    assertNotNull(out.get(0).error);
    assertEquals("native library did not load", out.get(0).error.getMessage());
    assertTrue(out.get(1).ok());
  }

  @Test
  public void failedPreparationIsThatTargetsFailure() throws Exception {
    FakeModel b = new FakeModel();
    BenchmarkSuite.Target preparesBadly =
        new BenchmarkSuite.Target() {
          @Override
          public String name() {
            return "ExecuTorch";
          }

          @Override
          public BenchmarkProtocol.Loader loader() throws Exception {
            throw new java.io.IOException("assets/model.pte is not an ExecuTorch program");
          }
        };
    List<BenchmarkSuite.Outcome<BenchmarkSuite.Target>> out =
        BenchmarkSuite.run(
            Arrays.<BenchmarkSuite.Target>asList(preparesBadly, new Target("PyTorch Lite", () -> b)),
            0, 1, CLOCK, null, new CancelFlag());
    assertFalse(out.get(0).ok());
    assertTrue(out.get(0).error.getMessage().contains("not an ExecuTorch program"));
    assertTrue(out.get(1).ok());
    assertEquals(2, b.runs.get());
  }

  @Test
  public void cancelStopsTheWholeSuite() throws Exception {
    CancelFlag cancel = new CancelFlag();
    FakeModel a = new FakeModel();
    a.onRun = cancel::cancel;
    final boolean[] secondLoaded = {false};
    try {
      BenchmarkSuite.run(
          Arrays.asList(new Target("A", () -> a), new Target("B", () -> {
            secondLoaded[0] = true;
            return new FakeModel();
          })),
          5, 5, CLOCK, null, cancel);
      fail();
    } catch (CancelFlag.CancelledException expected) {
      // fine
    }
    assertEquals(1, a.runs.get());
    assertTrue(a.closed);
    assertFalse(secondLoaded[0]);
  }

  @Test
  public void progressArithmetic() {
    assertEquals(0, BenchmarkSuite.inferencesDone("load", 1, 10));
    assertEquals(1, BenchmarkSuite.inferencesDone("first", 1, 10));
    assertEquals(4, BenchmarkSuite.inferencesDone("warmup", 3, 10));
    assertEquals(16, BenchmarkSuite.inferencesDone("timed", 5, 10));
    assertEquals(500, BenchmarkSuite.permille(1, 2, 0, 61));
    assertEquals(1000, BenchmarkSuite.permille(1, 2, 61, 61));
    assertEquals(250, BenchmarkSuite.permille(0, 1, 1, 4));
    assertEquals(61, BenchmarkProtocol.inferenceCount(10, 50));
  }
}
