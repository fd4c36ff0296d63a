/**
 * Section 5: fragmentation. Control frames must not be fragmented; fragmented text messages (with
 * pings in between) are reassembled and echoed; continuation frames with nothing to continue, and a
 * new data frame inside a fragmented message, fail the connection (1002). The octets go out in one
 * write, frame by frame (sync) or octet by octet, and the peer must not care.
 */
import type { CaseDefinition, CaseRun } from '../case.js';
import { message, pong } from '../case.js';
import type { FrameSpec } from '../fuzz-peer.js';

const text = (s: string): Buffer => Buffer.from(s, 'latin1');

/** How the octets go out: one write per call, each frame on its own (sync), or octet-wise chops. */
type Transport = Pick<FrameSpec, 'sync' | 'chopsize'>;
const ONE_CHOP: Transport = {};
const FRAME_WISE: Transport = { sync: true };
const OCTET_WISE: Transport = { chopsize: 1 };

const NORMAL_CLOSE = { closedByMe: true, closeCode: [1000], requireClean: true } as const;
const PROTOCOL_ERROR = { closedByMe: false, closeCode: [1002], requireClean: false } as const;
const NOTHING_TO_CONTINUE = 'The connection is failed immediately, since there is no message to continue.';

/** Frames that must fail the connection; nothing comes back. */
function mustFail(id: string, description: string, expectation: string, frames: readonly FrameSpec[]): CaseDefinition {
  return {
    id,
    description,
    expectation,
    onOpen(run: CaseRun) {
      run.expect('OK', []);
      run.expectClose(PROTOCOL_ERROR);
      for (const frame of frames) run.p.sendFrame(frame);
      run.p.killAfter(1);
    },
  };
}

/** A control frame split into two fragments (5.1 ping, 5.2 pong). */
function fragmentedControl(id: string, name: string, opcode: number): CaseDefinition {
  return mustFail(id, `Send ${name} fragmented into 2 fragments.`, 'Connection is failed immediately, since control message MUST NOT be fragmented.', [
    { opcode, fin: false, payload: text('fragment1') },
    { opcode: 0, fin: true, payload: text('fragment2') },
  ]);
}

/** A text message in two fragments, optionally with a ping in between, echoed whole (5.3–5.8). */
function twoFragments(id: string, description: string, withPing: boolean, transport: Transport): CaseDefinition {
  return {
    id,
    description,
    expectation: withPing ? "A pong is received, then the message is echo'ed back to us." : "Message is processed and echo'ed back to us.",
    onOpen(run) {
      const fragments = [text('fragment1'), text('fragment2')] as const;
      const pingPayload = text('ping payload');
      run.expect('OK', [...(withPing ? [pong(pingPayload)] : []), message(Buffer.concat(fragments))]);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 1, fin: false, payload: fragments[0], ...transport });
      if (withPing) run.p.sendFrame({ opcode: 9, fin: true, payload: pingPayload, ...transport });
      run.p.sendFrame({ opcode: 0, fin: true, payload: fragments[1], ...transport });
      run.p.closeAfter(1);
    },
  };
}

/** A continuation frame with nothing to continue (FIN = `fin`), then a text message (5.9–5.14). */
function orphanContinuation(id: string, fin: boolean, transport: Transport, how: string): CaseDefinition {
  return mustFail(
    id,
    `Send unfragmented Text Message after Continuation Frame with FIN = ${fin}, where there is nothing to continue, sent in ${how}.`,
    NOTHING_TO_CONTINUE,
    [
      { opcode: 0, fin, payload: text('non-continuation payload'), ...transport },
      { opcode: 1, fin: true, payload: text('Hello, world!'), ...transport },
    ],
  );
}

/** Twice: an orphan continuation frame (FIN = `fin`), then a text message in two fragments (5.16, 5.17). */
function repeatedOrphan(id: string, fin: boolean): CaseDefinition {
  const round: FrameSpec[] = [
    { opcode: 0, fin, payload: text('fragment1') },
    { opcode: 1, fin: false, payload: text('fragment2') },
    { opcode: 0, fin: true, payload: text('fragment3') },
  ];
  return mustFail(
    id,
    `Repeated 2x: Continuation Frame with FIN = ${fin} (where there is nothing to continue), then text Message fragmented into 2 fragments.`,
    NOTHING_TO_CONTINUE,
    [...round, ...round],
  );
}

const CASE_5_19_DESCRIPTION = `A fragmented text message is sent in multiple frames. After
   sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s,
   then we send 2 more text fragments, another Ping and then the final text fragment.
   Everything is legal.`;
const CASE_5_19_EXPECTATION = `The peer immediately answers the first Ping before
   it has received the last text message fragment. The peer pong's back the Ping's
   payload exactly, and echo's the payload of the fragmented message back to us.`;

/** A five-fragment text message with two pings in it and a one-second pause in the middle (5.19, 5.20). */
function pausedFragments(id: string, description: string, expectation: string, sync: boolean): CaseDefinition {
  return {
    id,
    description,
    expectation,
    onOpen(run) {
      const fragments = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'].map(text);
      const pings = ['pongme 1!', 'pongme 2!'].map(text);
      const frag = (i: number): Buffer => fragments[i]!;
      const ping = (i: number): Buffer => pings[i]!;
      run.expect('OK', [pong(ping(0)), pong(ping(1)), message(Buffer.concat(fragments))]);
      run.expectClose(NORMAL_CLOSE);
      run.p.sendFrame({ opcode: 1, fin: false, payload: frag(0), sync });
      run.p.sendFrame({ opcode: 0, fin: false, payload: frag(1), sync });
      run.p.sendFrame({ opcode: 9, fin: true, payload: ping(0), sync });
      run.p.continueLater(1, () => {
        run.p.sendFrame({ opcode: 0, fin: false, payload: frag(2), sync });
        run.p.sendFrame({ opcode: 0, fin: false, payload: frag(3), sync });
        run.p.sendFrame({ opcode: 9, fin: true, payload: ping(1), sync });
        run.p.sendFrame({ opcode: 0, fin: true, payload: frag(4), sync });
        run.p.closeAfter(1);
      });
    },
  };
}

const TWO_FRAGMENTS = 'Send text Message fragmented into 2 fragments';
const WITH_PING = `${TWO_FRAGMENTS}, one ping with payload in-between.`;

export const section5: CaseDefinition[] = [
  fragmentedControl('5.1', 'Ping', 9),
  fragmentedControl('5.2', 'Pong', 10),
  twoFragments('5.3', `${TWO_FRAGMENTS}.`, false, ONE_CHOP),
  twoFragments('5.4', `${TWO_FRAGMENTS}, octets are sent in frame-wise chops.`, false, FRAME_WISE),
  twoFragments('5.5', `${TWO_FRAGMENTS}, octets are sent in octet-wise chops.`, false, OCTET_WISE),
  twoFragments('5.6', WITH_PING, true, ONE_CHOP),
  twoFragments('5.7', `${WITH_PING} Octets are sent in frame-wise chops.`, true, FRAME_WISE),
  twoFragments('5.8', `${WITH_PING} Octets are sent in octet-wise chops.`, true, OCTET_WISE),
  orphanContinuation('5.9', true, ONE_CHOP, 'one chop'),
  orphanContinuation('5.10', true, FRAME_WISE, 'per-frame chops'),
  orphanContinuation('5.11', true, OCTET_WISE, 'octet-wise chops'),
  orphanContinuation('5.12', false, ONE_CHOP, 'one chop'),
  orphanContinuation('5.13', false, FRAME_WISE, 'per-frame chops'),
  orphanContinuation('5.14', false, OCTET_WISE, 'octet-wise chops'),
  {
    id: '5.15',
    description: `${TWO_FRAGMENTS}, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.`,
    expectation: NOTHING_TO_CONTINUE,
    onOpen(run) {
      const fragments = ['fragment1', 'fragment2', 'fragment3', 'fragment4'].map(text);
      const frag = (i: number): Buffer => fragments[i]!;
      run.expect('OK', [message(Buffer.concat([frag(0), frag(1)]))]);
      run.expect('NON-STRICT', []);
      run.expectClose(PROTOCOL_ERROR);
      run.p.sendFrame({ opcode: 1, fin: false, payload: frag(0) });
      run.p.sendFrame({ opcode: 0, fin: true, payload: frag(1) });
      run.p.sendFrame({ opcode: 0, fin: false, payload: frag(2) });
      run.p.sendFrame({ opcode: 1, fin: true, payload: frag(3) });
      run.p.killAfter(1);
    },
  },
  repeatedOrphan('5.16', false),
  repeatedOrphan('5.17', true),
  mustFail(
    '5.18',
    `${TWO_FRAGMENTS}, with both frame opcodes set to text, sent in one chop.`,
    'The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.',
    [
      { opcode: 1, fin: false, payload: text('fragment1') },
      { opcode: 1, fin: true, payload: text('fragment2') },
    ],
  ),
  pausedFragments('5.19', CASE_5_19_DESCRIPTION, CASE_5_19_EXPECTATION, false),
  pausedFragments(
    '5.20',
    `Same as Case 5.19, but send all frames with SYNC = True.
   Note, this does not change the octets sent in any way, only how the stream
   is chopped up on the wire.`,
    `Same as Case 5.19. Implementations must be agnostic to how
   octet stream is chopped up on wire (must be TCP clean).`,
    true,
  ),
];
