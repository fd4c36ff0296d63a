/**
 * Section 7: close handling. Data and control frames after a close frame are ignored (7.1), close
 * payloads of each valid and invalid shape (7.3: empty, 1 octet, code, code and reason, a reason too
 * long for a control frame; 7.5: a reason that is not UTF-8), valid close codes are answered with a
 * normal or echoed code (7.7), invalid ones fail the connection with 1002 (7.9), and codes the spec
 * leaves undefined are only reported (7.13). As in Autobahn, a wrong close code from the peer fails
 * these cases outright (instead of NON-STRICT), except the informational ones.
 */
import type { CaseDefinition, CaseRun, ExpectedClose } from '../case.js';
import { message } from '../case.js';
import { Behavior, CloseBehavior } from '../verdict.js';

const text = (s: string): Buffer => Buffer.from(s, 'latin1');

const NORMAL_CLOSE: ExpectedClose = { closedByMe: true, closeCode: [1000], requireClean: true };
const PROTOCOL_ERROR_BY_PEER: ExpectedClose = { closedByMe: true, closeCode: [1002], requireClean: false };

/** Section 7's scoring: the close code is the point of these cases, so a wrong one is a failure. */
function wrongCodeFails(run: CaseRun): void {
  if (run.behaviorClose === CloseBehavior.WRONG_CODE) {
    run.behavior = Behavior.FAILED;
    run.result = run.resultClose;
  }
}

/** A case that sends something, expects nothing back, and fails the connection after a second. */
function closeCase(
  id: string,
  description: string,
  expectation: string,
  expectedClose: ExpectedClose,
  send: (run: CaseRun) => void,
  { suppressClose = true }: { suppressClose?: boolean } = {},
): CaseDefinition {
  return {
    id,
    description,
    expectation,
    onOpen(run) {
      run.suppressClose = suppressClose;
      run.expect(Behavior.OK, []);
      run.expectClose(expectedClose);
      send(run);
      run.p.killAfter(1);
    },
    onConnectionLost: wrongCodeFails,
  };
}

/** The behaviour of codes the spec leaves undefined is only reported (7.13). */
function undefinedCode(id: string, code: number): CaseDefinition {
  return {
    id,
    description: `Send close with close code ${code}`,
    expectation: 'Actual events are undefined by the spec.',
    onOpen(run) {
      run.suppressClose = true;
      run.expect(Behavior.OK, []);
      run.expectClose({ closedByMe: true, closeCode: [1000, code, 1002], requireClean: false });
      run.p.sendCloseFrame(code);
      run.p.killAfter(1);
    },
    onConnectionLost(run) {
      run.behavior = Behavior.INFORMATIONAL;
      run.behaviorClose = CloseBehavior.INFORMATIONAL;
      run.result = 'Actual events are undefined by the spec.';
    },
  };
}

const HELLO = text('Hello World!');

/** "κόσμε" with an encoded surrogate (U+D800) before "edited": not valid UTF-8. */
const INVALID_UTF8_REASON = Buffer.from([
  0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64,
]);

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] as const;
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999] as const;

const section7_1: CaseDefinition[] = [
  {
    id: '7.1.1',
    description: 'Send a message followed by a close frame',
    expectation: 'Echoed message followed by clean close with normal code.',
    onOpen(run) {
      // The echo completes the expected events, and finishWhenDone starts the closing handshake.
      run.expect(Behavior.OK, [message(HELLO)]);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 1, payload: HELLO });
      run.p.killAfter(1);
    },
    onConnectionLost: wrongCodeFails,
  },
  closeCase('7.1.2', 'Send two close frames', 'Clean close with normal code. Second close frame ignored.', NORMAL_CLOSE, (run) => {
    run.p.sendClose(1000);
    run.p.sendFrame({ opcode: 8 });
  }),
  closeCase('7.1.3', 'Send a ping after close message', 'Clean close with normal code, no pong.', NORMAL_CLOSE, (run) => {
    run.p.sendClose(1000);
    run.p.sendFrame({ opcode: 9 });
  }),
  closeCase('7.1.4', 'Send text message after sending a close frame.', 'Clean close with normal code. Text message ignored.', NORMAL_CLOSE, (run) => {
    run.p.sendClose(1000);
    run.p.sendFrame({ opcode: 1, payload: HELLO });
  }),
  closeCase('7.1.5', 'Send message fragment1 followed by close then fragment', 'Clean close with normal code.', NORMAL_CLOSE, (run) => {
    run.p.sendFrame({ opcode: 1, fin: false, payload: text('fragment1') });
    run.p.sendClose(1000);
    run.p.sendFrame({ opcode: 0, fin: true, payload: text('fragment2') });
  }),
  {
    id: '7.1.6',
    description: 'Send 256K message followed by close then a ping',
    expectation:
      'Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.',
    onOpen(run) {
      run.suppressClose = true;
      run.expect(Behavior.OK, [message(HELLO)]);
      run.expect(Behavior.NON_STRICT, []);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 1, payload: text('BAsd7&jh23'), payloadLen: 256 * 1024 });
      run.p.sendFrame({ opcode: 1, payload: HELLO });
      run.p.sendClose(1000);
      run.p.sendFrame({ opcode: 9 });
      run.p.killAfter(1);
    },
    onConnectionLost(run) {
      if (run.behavior === Behavior.OK) run.result = 'Text message was processed before close.';
      else if (run.behavior === Behavior.NON_STRICT) run.result = 'Close was processed before text message could be returned.';
      run.behavior = Behavior.INFORMATIONAL;
      run.behaviorClose = CloseBehavior.INFORMATIONAL;
    },
  },
];

const section7_3: CaseDefinition[] = [
  closeCase(
    '7.3.1',
    'Send a close frame with payload length 0 (no close code, no close reason)',
    'Clean close with normal code.',
    NORMAL_CLOSE,
    (run) => run.p.sendCloseFrame(),
  ),
  closeCase('7.3.2', 'Send a close frame with payload length 1', 'Clean close with protocol error or drop TCP.', PROTOCOL_ERROR_BY_PEER, (run) =>
    run.p.sendCloseFrame(undefined, text('a')),
  ),
  closeCase(
    '7.3.3',
    'Send a close frame with payload length 2 (regular close with a code)',
    'Clean close with normal code.',
    NORMAL_CLOSE,
    (run) => run.p.sendClose(1000),
  ),
  closeCase('7.3.4', 'Send a close frame with close code and close reason', 'Clean close with normal code.', NORMAL_CLOSE, (run) =>
    run.p.sendClose(1000, 'Hello World!'),
  ),
  closeCase(
    '7.3.5',
    'Send a close frame with close code and close reason of maximum length (123)',
    'Clean close with normal code.',
    NORMAL_CLOSE,
    (run) => run.p.sendClose(1000, '*'.repeat(123)),
  ),
  closeCase(
    '7.3.6',
    'Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets',
    'Clean close with protocol error code or dropped TCP connection.',
    PROTOCOL_ERROR_BY_PEER,
    (run) => run.p.sendCloseFrame(1000, text('*'.repeat(124))),
  ),
];

const section7_5: CaseDefinition[] = [
  closeCase(
    '7.5.1',
    'Send a close frame with invalid UTF8 payload',
    'Clean close with protocol error or invalid utf8 code or dropped TCP.',
    { closedByMe: true, closeCode: [1002, 1007], requireClean: false },
    (run) => run.p.sendCloseFrame(1000, INVALID_UTF8_REASON),
  ),
];

const section7_7: CaseDefinition[] = VALID_CODES.map((code, index) =>
  closeCase(
    `7.7.${index + 1}`,
    `Send close with valid close code ${code}`,
    'Clean close with normal or echoed code',
    { closedByMe: true, closeCode: [1000, code], requireClean: true },
    (run) => run.p.sendCloseFrame(code),
    { suppressClose: false },
  ),
);

const section7_9: CaseDefinition[] = INVALID_CODES.map((code, index) =>
  closeCase(
    `7.9.${index + 1}`,
    `Send close with invalid close code ${code}`,
    'Clean close with protocol error code or drop TCP',
    PROTOCOL_ERROR_BY_PEER,
    (run) => run.p.sendCloseFrame(code),
    { suppressClose: false },
  ),
);

const section7_13: CaseDefinition[] = [undefinedCode('7.13.1', 5000), undefinedCode('7.13.2', 65535)];

export const section7: CaseDefinition[] = [...section7_1, ...section7_3, ...section7_5, ...section7_7, ...section7_9, ...section7_13];
