import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WsWebSocket from 'ws';
import { ABNORMAL_CLOSURE, CLOSED, CLOSING, CONNECTING, MAX_REASON_BYTES, OPEN, READY_STATES } from '../../src/protocol/web-constants.js';
import { MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD } from '../../src/protocol/constants.js';
import { NativeWebSocket, NATIVE_WEBSOCKET_SOURCE } from '../helpers/web-oracle.js';

describe('web constants (WHATWG WebSockets §3.1, RFC 6455)', () => {
  it('the ready states are CONNECTING 0, OPEN 1, CLOSING 2, CLOSED 3, in that order (WHATWG §3.1)', () => {
    assert.deepEqual([CONNECTING, OPEN, CLOSING, CLOSED], [0, 1, 2, 3]);
    assert.deepEqual(READY_STATES, [
      ['CONNECTING', 0],
      ['OPEN', 1],
      ['CLOSING', 2],
      ['CLOSED', 3],
    ]);
  });

  it(`the ready states are those of Node's WebSocket (${NATIVE_WEBSOCKET_SOURCE}) and of ws`, () => {
    const ours = Object.fromEntries(READY_STATES);
    const pick = (source: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(READY_STATES.map(([name]) => [name, source[name]]));
    assert.deepEqual(pick(NativeWebSocket as unknown as Record<string, unknown>), ours);
    assert.deepEqual(pick(WsWebSocket as unknown as Record<string, unknown>), ours);
  });

  it('a connection closed without a close frame reports 1006 (RFC 6455 §7.4.1 "Abnormal Closure")', () => {
    assert.equal(ABNORMAL_CLOSURE, 1006);
  });

  it('a close reason holds at most 123 bytes: a 125-byte control payload less the 2-byte code (RFC 6455 §5.5, §5.5.1)', () => {
    assert.equal(MAX_REASON_BYTES, 123);
    assert.equal(MAX_REASON_BYTES, MAX_CONTROL_PAYLOAD - 2);
    assert.equal(MAX_REASON_BYTES, MAX_CLOSE_REASON_BYTES, 'the Buffer-using constants.ts agrees');
  });
});
