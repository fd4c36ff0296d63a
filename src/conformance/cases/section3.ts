/**
 * Section 3: reserved bits. With no extension negotiated, a frame with any RSV bit set must fail the
 * connection (1002), whatever its opcode and however its octets arrive.
 */
import type { CaseDefinition, CaseRun } from '../case.js';
import { message } from '../case.js';
import type { FrameSpec } from '../fuzz-peer.js';

const HELLO = Buffer.from('Hello, world!', 'latin1');

/** How the octets go out: one write per call, each frame on its own (sync), or octet-wise chops. */
type Transport = Pick<FrameSpec, 'sync' | 'chopsize'>;

function expectFailure(run: CaseRun): void {
  run.expectClose({ closedByMe: false, closeCode: [1002], requireClean: false });
}

/** One frame with reserved bits set: the connection must be failed, nothing comes back. */
function badFrame(id: string, description: string, expectation: string, frame: FrameSpec): CaseDefinition {
  return {
    id,
    description,
    expectation,
    onOpen(run) {
      run.expect('OK', []);
      expectFailure(run);
      run.p.sendFrame(frame);
      run.p.killAfter(1);
    },
  };
}

/** A valid text message, the same with RSV = `rsv`, then a ping: the echo may come, the pong must not. */
function afterEcho(id: string, description: string, rsv: number, transport: Transport): CaseDefinition {
  return {
    id,
    description,
    expectation:
      'Echo for first message is received, but then connection is failed immediately, since RSV must be 0, when no extension defining RSV meaning has been negotiated. The Pong is not received.',
    onOpen(run) {
      run.expect('OK', [message(HELLO)]);
      run.expect('NON-STRICT', []);
      expectFailure(run);
      run.p.sendFrame({ opcode: 1, payload: HELLO, ...transport });
      run.p.sendFrame({ opcode: 1, payload: HELLO, rsv, ...transport });
      run.p.sendFrame({ opcode: 9, ...transport });
      run.p.killAfter(1);
    },
  };
}

const MUST_BE_ZERO = 'The connection is failed immediately, since RSV must be 0.';

export const section3: CaseDefinition[] = [
  badFrame(
    '3.1',
    'Send small text message with <b>RSV = 1</b>.',
    'The connection is failed immediately (1002/protocol error), since RSV must be 0, when no extension defining RSV meaning has been negotiated.',
    { opcode: 1, payload: HELLO, rsv: 1 },
  ),
  afterEcho('3.2', 'Send small text message, then send again with <b>RSV = 2</b>, then send Ping.', 2, {}),
  afterEcho(
    '3.3',
    'Send small text message, then send again with <b>RSV = 3</b>, then send Ping. Octets are sent in frame-wise chops. Octets are sent in octet-wise chops.',
    3,
    { sync: true },
  ),
  afterEcho(
    '3.4',
    'Send small text message, then send again with <b>RSV = 4</b>, then send Ping. Octets are sent in octet-wise chops.',
    4,
    { chopsize: 1 },
  ),
  badFrame('3.5', 'Send small binary message with <b>RSV = 5</b>.', MUST_BE_ZERO, {
    opcode: 2,
    payload: Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]),
    rsv: 5,
  }),
  // The published case says "Ping" but sends a binary frame; we send what Autobahn sends.
  badFrame('3.6', 'Send Ping with <b>RSV = 6</b>.', MUST_BE_ZERO, { opcode: 2, payload: HELLO, rsv: 6 }),
  badFrame('3.7', 'Send Close with <b>RSV = 7</b>.', MUST_BE_ZERO, { opcode: 8, rsv: 7 }),
];
