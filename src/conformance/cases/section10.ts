/**
 * Section 10: miscellaneous. 10.1.1 sends a 64 KiB text message auto-fragmented into frames of 1300
 * octets, expects the echo, and checks that we really sent the frames we meant to (one text frame
 * and the continuation frames).
 */
import type { CaseDefinition } from '../case.js';
import { message } from '../case.js';
import { Behavior } from '../verdict.js';

const AUTO_FRAGMENT_SIZE = 1300;
const PAYLOAD_LENGTH = 65536;

/** Frames per opcode as in Autobahn's report: `{0: 50, 1: 1}`. */
const formatFrames = (frames: Readonly<Record<number, number>>): string =>
  `{${Object.entries(frames)
    .map(([opcode, count]) => `${opcode}: ${count}`)
    .join(', ')}}`;

export const section10: CaseDefinition[] = [
  {
    id: '10.1.1',
    description: 'Send text message with payload of length 65536 auto-fragmented with <b>autoFragmentSize = 1300</b>.',
    expectation:
      "Receive echo'ed text message (with payload as sent and transmitted frame counts as expected). Clean close with normal code.",
    timeLimit: 20,
    onOpen(run) {
      const payload = Buffer.alloc(PAYLOAD_LENGTH, 0x2a); // "*"
      run.p.autoFragmentSize = AUTO_FRAGMENT_SIZE;
      run.expect(Behavior.OK, [message(payload)]);
      run.expectClose({ closedByMe: true, closeCode: [1000], requireClean: true });
      run.p.sendMessage(payload);
      run.p.killAfter(10);
    },
    onConnectionLost(run) {
      if (!run.connectionWasOpen) {
        run.behavior = Behavior.FAILED;
        run.result = 'WebSocket connection was never open';
        return;
      }
      // One text frame, then a continuation frame for every further (full or partial) chunk: 1 and 50.
      const frames = Math.ceil(PAYLOAD_LENGTH / AUTO_FRAGMENT_SIZE);
      const expected = { 0: frames - 1, 1: 1 };
      const got = { 0: run.p.txFrameStats.get(0) ?? 0, 1: run.p.txFrameStats.get(1) ?? 0 };
      if (got[0] !== expected[0] || got[1] !== expected[1]) {
        run.behavior = Behavior.FAILED;
        run.result = `Frames transmitted ${formatFrames(got)} does not match what we expected ${formatFrames(expected)}.`;
      }
    },
  },
];
