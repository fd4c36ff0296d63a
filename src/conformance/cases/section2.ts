/**
 * Section 2: pings and pongs. Pings of each size class must be answered with a pong carrying the same
 * payload (also when the ping arrives a byte at a time), an oversized ping fails the connection, and
 * unsolicited pongs are ignored.
 */
import type { CaseDefinition } from '../case.js';
import { pong } from '../case.js';

const NORMAL_CLOSE = { closedByMe: true, closeCode: [1000], requireClean: true } as const;

/** One ping, answered by a pong with the same payload; we close after `wait` seconds. */
function pingPong(id: string, description: string, expectation: string, payload: Buffer, wait: number, chopsize?: number): CaseDefinition {
  return {
    id,
    description,
    expectation,
    onOpen(run) {
      run.expect('OK', [pong(payload)]);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 9, payload, ...(chopsize !== undefined && { chopsize }) });
      run.p.closeAfter(wait);
    },
  };
}

/** An unsolicited pong, then our close right away: nothing may come back. */
function unsolicitedPong(id: string, description: string, payload: Buffer): CaseDefinition {
  return {
    id,
    description,
    expectation: 'Nothing.',
    onOpen(run) {
      run.expect('OK', []);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 10, payload });
      run.p.sendClose(1000);
      run.p.closeAfter(1);
    },
  };
}

/** Ten pings in a row, each answered in order (2.10 in one write per frame, 2.11 octet-wise). */
function tenPings(id: string, description: string, chopsize?: number): CaseDefinition {
  return {
    id,
    description,
    expectation:
      'Pongs for our Pings with all the payloads. Note: This is not required by the Spec .. but we check for this behaviour anyway. Clean close with normal code.',
    onOpen(run) {
      const pongs = [];
      for (let i = 0; i < 10; i++) {
        const payload = Buffer.from(`payload-${i}`, 'latin1');
        pongs.push(pong(payload));
        run.p.sendFrame({ opcode: 9, payload, ...(chopsize !== undefined && { chopsize }) });
      }
      run.expect('OK', pongs);
      run.expectClose(NORMAL_CLOSE);
      run.p.closeAfter(3);
    },
  };
}

const ECHOED = "Pong with payload echo'ed is sent in reply to Ping. Clean close with normal code.";

export const section2: CaseDefinition[] = [
  pingPong(
    '2.1',
    'Send ping without payload.',
    'Pong (with empty payload) is sent in reply to Ping. Clean close with normal code.',
    Buffer.alloc(0),
    1,
  ),
  pingPong('2.2', 'Send ping with small text payload.', ECHOED, Buffer.from('Hello, world!', 'latin1'), 1),
  pingPong(
    '2.3',
    'Send ping with small binary (non UTF-8) payload.',
    ECHOED,
    Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]),
    1,
  ),
  pingPong('2.4', 'Send ping with binary payload of 125 octets.', ECHOED, Buffer.alloc(125, 0xfe), 1),
  {
    id: '2.5',
    description: 'Send ping with binary payload of 126 octets.',
    expectation:
      'Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets..',
    onOpen(run) {
      run.expect('OK', []);
      run.expectClose({ closedByMe: false, closeCode: [1002], requireClean: false });
      run.p.sendFrame({ opcode: 9, payload: Buffer.alloc(126, 0xfe) });
      run.p.killAfter(1);
    },
  },
  pingPong(
    '2.6',
    'Send ping with binary payload of 125 octets, send in octet-wise chops.',
    "Pong with payload echo'ed is sent in reply to Ping. Implementations must be TCP clean. Clean close with normal code.",
    Buffer.alloc(125, 0xfe),
    2,
    1,
  ),
  unsolicitedPong('2.7', 'Send unsolicited pong without payload. Verify nothing is received. Clean close with normal code.', Buffer.alloc(0)),
  unsolicitedPong(
    '2.8',
    'Send unsolicited pong with payload. Verify nothing is received. Clean close with normal code.',
    Buffer.from('unsolicited pong payload', 'latin1'),
  ),
  {
    id: '2.9',
    description: 'Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.',
    expectation: "Nothing in reply to own Pong, but Pong with payload echo'ed in reply to Ping. Clean close with normal code.",
    onOpen(run) {
      const payload = Buffer.from('ping payload', 'latin1');
      run.expect('OK', [pong(payload)]);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 10, payload: Buffer.from('unsolicited pong payload', 'latin1') });
      run.p.sendFrame({ opcode: 9, payload });
      run.p.closeAfter(1);
    },
  },
  tenPings('2.10', 'Send 10 Pings with payload.'),
  tenPings('2.11', 'Send 10 Pings with payload. Send out octets in octet-wise chops.', 1),
];
