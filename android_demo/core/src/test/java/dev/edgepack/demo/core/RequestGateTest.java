package dev.edgepack.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import dev.edgepack.demo.core.RequestGate.Decision;
import org.junit.Test;

public class RequestGateTest {

  @Test
  public void photoArrivingWhileModelLoadsIsKeptAndRunOnceReady() {
    // Android killed the app while the camera was open: the restarted app gets the photo first
    RequestGate<String> gate = new RequestGate<>();
    assertTrue(gate.isModelLoading());
    assertEquals(Decision.WAIT_FOR_MODEL, gate.submit("photo.jpg"));
    assertEquals("photo.jpg", gate.getPending());
    assertFalse(gate.isBusy());
    assertEquals("photo.jpg", gate.modelReady());
    assertTrue(gate.isBusy());
    assertNull(gate.getPending());
    assertNull(gate.finished());
    assertFalse(gate.isBusy());
  }

  @Test
  public void readyModelStartsAtOnce() {
    RequestGate<String> gate = new RequestGate<>();
    assertNull(gate.modelReady());
    assertEquals(Decision.START, gate.submit("a"));
    assertTrue(gate.isBusy());
  }

  @Test
  public void requestsWhileBusyWaitNewestWins() {
    RequestGate<String> gate = new RequestGate<>();
    gate.modelReady();
    assertEquals(Decision.START, gate.submit("a"));
    assertEquals(Decision.WAIT_FOR_BUSY, gate.submit("b"));
    assertEquals(Decision.WAIT_FOR_BUSY, gate.submit("c"));
    assertEquals("c", gate.finished());
    assertTrue(gate.isBusy());
    assertNull(gate.finished());
  }

  @Test
  public void reloadWhileBusyHoldsNewRequestsUntilReady() {
    RequestGate<String> gate = new RequestGate<>();
    gate.modelReady();
    gate.submit("a");
    gate.modelLoading(); // the user switched runtime
    assertEquals(Decision.WAIT_FOR_MODEL, gate.submit("b"));
    assertNull(gate.finished()); // "a" done, but the model is reloading
    assertFalse(gate.isBusy());
    assertEquals("b", gate.modelReady());
  }

  @Test
  public void failedModelDropsTheWaitingRequestAndRefusesNewOnes() {
    RequestGate<String> gate = new RequestGate<>();
    gate.submit("photo");
    assertEquals("photo", gate.modelFailed());
    assertNull(gate.getPending());
    assertEquals(Decision.REFUSED, gate.submit("another"));
    assertNull(gate.modelFailed());
    // a later successful reload (other runtime) works again
    gate.modelLoading();
    assertEquals(Decision.WAIT_FOR_MODEL, gate.submit("third"));
    assertEquals("third", gate.modelReady());
  }

  @Test(expected = IllegalArgumentException.class)
  public void nullRequestRejected() {
    new RequestGate<String>().submit(null);
  }
}
