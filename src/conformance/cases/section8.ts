/**
 * Section 8: masking. Not an Autobahn section (Autobahn's numbering skips 8, and its cases always send
 * correctly masked frames, so a peer that accepts wrongly masked frames passes it). These cases send
 * frames with the wrong masking for our role — unmasked from the fuzzing client, masked from the
 * fuzzing server — which RFC 6455 §5.1 says the peer must refuse by failing the connection (1002).
 */
import { message, type CaseDefinition, type CaseRun } from '../case.js';
import { Behavior, CloseBehavior } from '../verdict.js';

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);

/** The masking a frame from us must not have: none from a client, a key from a server. */
function wrongMask(run: CaseRun): Buffer | null {
  return run.p.role === 'client' ? null : MASK;
}

function expectFailure(run: CaseRun): void {
  run.expect('OK', []);
  run.expectClose({ closedByMe: false, closeCode: [1002], requireClean: false });
  run.p.killAfter(1);
}

/** A peer that closes with any code but 1002 did not see the masking error: that is a failure. */
function wrongCodeFails(run: CaseRun): void {
  if (run.behaviorClose === CloseBehavior.WRONG_CODE) {
    run.behavior = Behavior.FAILED;
    run.result = run.resultClose;
  }
}

const cases: CaseDefinition[] = [
  {
    id: '8.1.1',
    description: 'Send a text message in one frame with the wrong masking for our role (unmasked from a client, masked from a server).',
    expectation: 'The peer fails the connection with 1002 (RFC 6455 §5.1); the message is not echoed.',
    onOpen(run) {
      expectFailure(run);
      run.p.sendFrame({ opcode: 1, payload: 'Hello, world!', mask: wrongMask(run) });
    },
  },
  {
    id: '8.1.2',
    description: 'Send a binary message in one frame with the wrong masking for our role.',
    expectation: 'The peer fails the connection with 1002; the message is not echoed.',
    onOpen(run) {
      expectFailure(run);
      run.p.sendFrame({ opcode: 2, payload: Buffer.from([0xfe, 0xfe, 0xfe]), mask: wrongMask(run) });
    },
  },
  {
    id: '8.1.3',
    description: 'Send a ping with the wrong masking for our role.',
    expectation: 'The peer fails the connection with 1002; no pong is sent.',
    onOpen(run) {
      expectFailure(run);
      run.p.sendFrame({ opcode: 9, payload: 'ping', mask: wrongMask(run) });
    },
  },
  {
    id: '8.1.4',
    description: 'Send a correctly masked text message, then a text message in two fragments whose second fragment has the wrong masking for our role.',
    expectation: 'The first message is echoed; then the peer fails the connection with 1002 and the second message is not echoed.',
    onOpen(run) {
      run.expect('OK', [message('first')]);
      run.expectClose({ closedByMe: false, closeCode: [1002], requireClean: false });
      run.p.sendFrame({ opcode: 1, payload: 'first' });
      run.p.sendFrame({ opcode: 1, payload: 'sec', fin: false });
      run.p.sendFrame({ opcode: 0, payload: 'ond', mask: wrongMask(run) });
      run.p.killAfter(1);
    },
  },
  {
    id: '8.1.5',
    description: 'Send a close frame (code 1000) with the wrong masking for our role.',
    expectation: 'The peer fails the connection with 1002 instead of completing a normal close.',
    onOpen(run) {
      expectFailure(run);
      run.p.sendFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask: wrongMask(run) });
    },
  },
];

export const section8: CaseDefinition[] = cases.map((c) => ({ ...c, onConnectionLost: wrongCodeFails }));
