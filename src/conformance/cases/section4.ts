/**
 * Section 4: opcodes. Frames with a reserved non-control opcode (3–7, 4.1.x) or a reserved control
 * opcode (11–15, 4.2.x) must fail the connection (1002); a valid message sent before may be echoed.
 */
import type { CaseDefinition } from '../case.js';
import { message } from '../case.js';

const HELLO = Buffer.from('Hello, world!', 'latin1');
const RESERVED_PAYLOAD = Buffer.from('reserved opcode payload', 'latin1');

/**
 * The five cases of a group, for reserved opcodes `first` .. `first + 4`:
 * a bare frame, a frame with payload, then three "text message, reserved frame, ping" variants
 * (empty reserved frame; with payload; with payload, all octet-wise).
 */
function reservedOpcodes(group: string, kind: 'non-control' | 'control', first: number): CaseDefinition[] {
  const failClose = { closedByMe: false, closeCode: [1002], requireClean: false } as const;
  const failedImmediately = 'The connection is failed immediately.';
  const afterEchoExpectation =
    'Echo for first message is received, but then connection is failed immediately, since reserved opcode frame is used. A Pong is not received.';

  const alone = (index: number, opcode: number, payload: Buffer | undefined, description: string): CaseDefinition => ({
    id: `${group}.${index}`,
    description,
    expectation: failedImmediately,
    onOpen(run) {
      run.expect('OK', []);
      run.expectClose(failClose);
      run.p.sendFrame({ opcode, ...(payload !== undefined && { payload }) });
      run.p.killAfter(1);
    },
  });

  const afterEcho = (index: number, opcode: number, withPayload: boolean, chopsize: number | undefined, description: string): CaseDefinition => ({
    id: `${group}.${index}`,
    description,
    expectation: afterEchoExpectation,
    onOpen(run) {
      const chops = chopsize !== undefined ? { chopsize } : {};
      run.expect('OK', [message(HELLO)]);
      run.expect('NON-STRICT', []);
      run.expectClose(failClose);
      run.p.sendFrame({ opcode: 1, payload: HELLO, ...chops });
      run.p.sendFrame({ opcode, ...(withPayload && { payload: HELLO }), ...chops });
      run.p.sendFrame({ opcode: 9, ...chops });
      run.p.killAfter(1);
    },
  });

  const op = (n: number): number => first + n;
  const tag = (n: number): string => `reserved ${kind} <b>Opcode = ${op(n)}</b>`;
  return [
    alone(1, op(0), undefined, `Send frame with ${tag(0)}.`),
    alone(2, op(1), RESERVED_PAYLOAD, `Send frame with ${tag(1)} and non-empty payload.`),
    afterEcho(3, op(2), false, undefined, `Send small text message, then send frame with ${tag(2)}, then send Ping.`),
    afterEcho(4, op(3), true, undefined, `Send small text message, then send frame with ${tag(3)} and non-empty payload, then send Ping.`),
    afterEcho(5, op(4), true, 1, `Send small text message, then send frame with ${tag(4)} and non-empty payload, then send Ping.`),
  ];
}

export const section4: CaseDefinition[] = [...reservedOpcodes('4.1', 'non-control', 3), ...reservedOpcodes('4.2', 'control', 11)];
