/** Section 1: framing. Text (1.1.x) and binary (1.2.x) messages of each length class, echoed back. */
import type { CaseDefinition } from '../case.js';
import { message } from '../case.js';

const LENGTHS: ReadonlyArray<{ length: number; wait: number; chopsize?: number }> = [
  { length: 0, wait: 1 },
  { length: 125, wait: 1 },
  { length: 126, wait: 1 },
  { length: 127, wait: 1 },
  { length: 128, wait: 1 },
  { length: 65535, wait: 10 },
  { length: 65536, wait: 10 },
  { length: 65536, wait: 10, chopsize: 997 },
];

function framing(binary: boolean): CaseDefinition[] {
  const kind = binary ? 'binary' : 'text';
  return LENGTHS.map(({ length, wait, chopsize }, index) => {
    const payload = Buffer.alloc(length, binary ? 0xfe : 0x2a); // "\xfe" or "*"
    return {
      id: `1.${binary ? 2 : 1}.${index + 1}`,
      description:
        length === 0
          ? `Send ${kind} message with payload 0.`
          : `Send ${kind} message message with payload of length ${length}.${chopsize ? ` Sent out data in chops of ${chopsize} octets.` : ''}`,
      expectation: `Receive echo'ed ${kind} message (with ${length === 0 ? 'empty payload' : 'payload as sent'}). Clean close with normal code.`,
      onOpen(run) {
        run.expect('OK', [message(payload, binary)]);
        run.expectClose({ closedByMe: true, closeCode: [1000], requireClean: true });
        run.p.sendFrame({ opcode: binary ? 2 : 1, payload, ...(chopsize !== undefined && { chopsize }) });
        run.p.killAfter(wait);
      },
    };
  });
}

export const section1: CaseDefinition[] = [...framing(false), ...framing(true)];
