import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CloseHandshake, ReadyState } from '../../src/protocol/close-handshake.js';

const reason = Buffer.from('bye');

describe('CloseHandshake (RFC 6455 §7)', () => {
  it('server initiates: sends close, reads until the peer answers, then closes TCP itself', () => {
    const h = new CloseHandshake('server');
    assert.equal(h.readyState, ReadyState.OPEN);
    assert.equal(h.sendClose(), true);
    assert.equal(h.sendClose(), false, 'only one close frame');
    assert.equal(h.readyState, ReadyState.CLOSING);
    assert.equal(h.canSendData, false);
    assert.equal(h.canReceive, true, 'still reads until the peer closes');
    assert.equal(h.shouldCloseTransport, false);
    assert.equal(h.receiveClose(1000, reason), false, 'no second close frame');
    assert.equal(h.shouldCloseTransport, true, 'the server closes TCP first');
    assert.deepEqual(h.closeTransport(), { code: 1000, reason, wasClean: true, failed: false });
    assert.equal(h.readyState, ReadyState.CLOSED);
  });

  it('client initiates: after the exchange it waits for the server to close TCP', () => {
    const h = new CloseHandshake('client');
    h.sendClose();
    h.receiveClose(1000, reason);
    assert.equal(h.shouldCloseTransport, false);
    assert.equal(h.awaitingPeerClose, true);
    assert.equal(h.closeTransport().wasClean, true);
  });

  it('peer initiates: we must answer, then cannot send data or read more', () => {
    const h = new CloseHandshake('server');
    assert.equal(h.receiveClose(4000, reason), true, 'answer with a close frame');
    assert.equal(h.canSendData, false);
    assert.equal(h.canReceive, false);
    assert.equal(h.shouldCloseTransport, true);
    assert.equal(h.sendClose(), false);
  });

  it('TCP lost without close frames: 1006, not clean', () => {
    const h = new CloseHandshake('client');
    assert.deepEqual(h.closeTransport(), { code: 1006, reason: Buffer.alloc(0), wasClean: false, failed: false });
  });

  it('TCP lost after we sent close but before the answer: not clean, 1006', () => {
    const h = new CloseHandshake('server');
    h.sendClose();
    const result = h.closeTransport();
    assert.equal(result.wasClean, false);
    assert.equal(result.code, 1006);
  });

  it('failing sends one close frame and closes TCP at once, in both roles', () => {
    for (const role of ['client', 'server'] as const) {
      const h = new CloseHandshake(role);
      assert.equal(h.fail(1002, Buffer.alloc(0)), true);
      assert.equal(h.fail(1002, Buffer.alloc(0)), false);
      assert.equal(h.shouldCloseTransport, true);
      assert.equal(h.canReceive, false);
      const result = h.closeTransport();
      assert.equal(result.code, 1002);
      assert.equal(result.failed, true);
      assert.equal(result.wasClean, false);
    }
  });

  it('failing after our close frame sends no second one', () => {
    const h = new CloseHandshake('server');
    h.sendClose();
    assert.equal(h.fail(1007, Buffer.alloc(0)), false);
    assert.equal(h.shouldCloseTransport, true);
  });
});
