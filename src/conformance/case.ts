/**
 * A conformance case and its run. A case is defined by its Autobahn id, description and expectation,
 * and hooks that drive the fuzzing peer (`onOpen`, and optionally `onMessage`, `onPong`,
 * `onConnectionLost`). A run records what arrived, compares it with the expected outcomes, and scores
 * the behaviour and the close exactly as the Autobahn|Testsuite does.
 */
import type { ExpiredWait, FuzzPeer, PeerExtension } from './fuzz-peer.js';
import { Behavior, CloseBehavior, combineVerdict, type Verdict } from './verdict.js';
import { preview, type WireEntry } from './wire-log.js';

/** What arrived, in order (the `received` list of Autobahn). */
export type CaseEvent =
  | { readonly type: 'message'; readonly payload: Buffer; readonly binary: boolean }
  | { readonly type: 'ping' | 'pong'; readonly payload: Buffer }
  | { readonly type: 'timeout'; readonly tag: string };

export interface ExpectedClose {
  /** We (the fuzzing peer) send the first close frame. */
  readonly closedByMe: boolean;
  /** Acceptable close codes from the peer (an absent code is accepted too). */
  readonly closeCode: readonly number[];
  readonly requireClean: boolean;
  /** For UTF-8 cases: if the wrong side closed, the peer did not detect the problem at all. */
  readonly closedByWrongEndpointIsFatal?: boolean;
}

/** Extension negotiation of a case (sections 12 and 13): what to offer or accept, and the result. */
export interface CaseExtensions {
  /** Client role: the `Sec-WebSocket-Extensions` offer to send. */
  offer?(): string;
  /** Client role: the server's answer (undefined when none); null when not accepted (the case is UNIMPLEMENTED). */
  accept?(response: string | undefined, run: CaseRun): PeerExtension | null;
  /** Server role: answer the client's offer; null to refuse (UNIMPLEMENTED). */
  respond?(offer: string | undefined, run: CaseRun): { header: string; extension: PeerExtension } | null;
}

export interface CaseDefinition {
  readonly id: string;
  readonly description: string;
  readonly expectation: string;
  readonly extensions?: CaseExtensions;
  /**
   * Upper bound on the whole case, in seconds (default 60, multiplied by the run's time scale),
   * beyond the case's own timers.
   */
  readonly timeLimit?: number;
  onOpen(run: CaseRun): void;
  onMessage?(run: CaseRun, payload: Buffer, binary: boolean): void;
  onPong?(run: CaseRun, payload: Buffer): void;
  /** Adjust the scoring after the standard one (informational cases, extra checks). */
  onConnectionLost?(run: CaseRun): void;
}

/** Shorthands for expected events. */
export const message = (payload: string | Buffer, binary = false): CaseEvent => ({
  type: 'message',
  payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
  binary,
});
export const pong = (payload: string | Buffer = ''): CaseEvent => ({ type: 'pong', payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload });
export const timeout = (tag: string): CaseEvent => ({ type: 'timeout', tag });

/** A summary of an event for reports (payloads are cut to a preview). */
export interface EventSummary {
  readonly type: CaseEvent['type'];
  readonly length?: number;
  readonly preview?: string;
  readonly binary?: boolean;
  readonly tag?: string;
}

/** One case's outcome, as `index.json` records it. */
export interface CaseResult {
  readonly id: string;
  readonly description: string;
  readonly expectation: string;
  readonly verdict: Verdict;
  readonly behavior: Behavior;
  readonly behaviorClose: CloseBehavior;
  readonly result: string;
  readonly resultClose: string;
  readonly expected: Record<string, EventSummary[]>;
  readonly received: EventSummary[];
  readonly expectedClose: ExpectedClose | null;
  readonly observed: {
    readonly connectionWasOpen: boolean;
    readonly closedByMe: boolean;
    readonly failedByMe: boolean;
    readonly droppedByMe: boolean;
    readonly wasClean: boolean;
    readonly remoteCloseCode: number | null;
    readonly remoteCloseReason: string | null;
    readonly localCloseCode: number | null;
    readonly wasCloseHandshakeTimeout: boolean;
    readonly wasServerConnectionDropTimeout: boolean;
  };
  /**
   * Set when the case ran out of time and that decided a verdict other than OK: what we waited for
   * and how long ("Timed out after 5 s waiting for the peer's close frame"). A slow peer or a loaded
   * machine shows here, not as a wrong result; `result` / `resultClose` carry the same words.
   */
  readonly timedOut: string | null;
  readonly durationMs: number;
  readonly reportTime: boolean;
  readonly txFrames: Record<string, number>;
  readonly rxFrames: Record<string, number>;
  readonly handshake: { readonly request: string; readonly response: string };
  readonly wirelog: WireEntry[];
}

export class CaseRun {
  readonly definition: CaseDefinition;
  /** The role of the fuzzing peer: 'client' when a server is tested. */
  readonly isServer: boolean;
  p!: FuzzPeer;
  readonly expected = new Map<string, CaseEvent[]>();
  expectedClose: ExpectedClose | null = null;
  readonly received: CaseEvent[] = [];
  behavior: Behavior = Behavior.FAILED;
  behaviorClose: CloseBehavior = CloseBehavior.FAILED;
  result = 'Actual events differ from any expected.';
  resultClose = 'TCP connection was dropped without close handshake';
  reportTime = false;
  /** Do not start the closing handshake when the expected events have arrived. */
  suppressClose = false;
  connectionWasOpen = false;
  /** Per-case state for the hooks. */
  readonly data: Record<string, unknown> = {};
  handshakeRequest = '';
  handshakeResponse = '';
  /** Waits of the framework itself that ran out (the case's time limit, the opening handshake). */
  readonly expiredLimits: Array<{ readonly what: string; readonly seconds: number }> = [];
  /** See `CaseResult.timedOut`. */
  timedOut: string | null = null;
  private startedAt = 0;
  private endedAt = 0;

  constructor(definition: CaseDefinition, isServer: boolean) {
    this.definition = definition;
    this.isServer = isServer;
  }

  /** Declare an acceptable outcome (`OK`, `NON-STRICT`...). */
  expect(behavior: Behavior, events: CaseEvent[]): void {
    this.expected.set(behavior, events);
  }

  expectClose(close: ExpectedClose): void {
    this.expectedClose = close;
  }

  record(event: CaseEvent): void {
    this.received.push(event);
  }

  /** The peer attaches itself and the case starts. */
  open(peer: FuzzPeer): void {
    this.p = peer;
    this.connectionWasOpen = true;
    this.startedAt = Date.now();
    this.definition.onOpen(this);
  }

  onMessage(payload: Buffer, binary: boolean): void {
    if (this.definition.onMessage !== undefined) {
      this.definition.onMessage(this, payload, binary);
      return;
    }
    this.received.push({ type: 'message', payload, binary });
    this.finishWhenDone();
  }

  onPong(payload: Buffer): void {
    if (this.definition.onPong !== undefined) {
      this.definition.onPong(this, payload);
      return;
    }
    this.received.push({ type: 'pong', payload });
    this.finishWhenDone();
  }

  /**
   * Once what arrived matches every expected outcome, start the closing handshake if we are the
   * ones expected to close (Autobahn's `finishWhenDone`).
   */
  finishWhenDone(): void {
    for (const events of this.expected.values()) if (!sameEvents(this.received, events)) return;
    if (this.expectedClose?.closedByMe === true && !this.suppressClose) this.p.sendClose(this.expectedClose.closeCode[0]);
  }

  /**
   * The framework gave up waiting (the case's time limit, the opening handshake) and dropped the
   * connection: `what` is what we waited for.
   */
  limitReached(what: string, seconds: number): void {
    this.expiredLimits.push({ what, seconds });
  }

  /** Score the run once the TCP connection is gone (Autobahn's `onConnectionLost`). */
  connectionLost(): void {
    this.endedAt = Date.now();
    for (const [behavior, events] of this.expected) {
      if (sameEvents(this.received, events)) {
        this.behavior = behavior as Behavior;
        this.result = 'Actual events match at least one expected.';
        break;
      }
    }
    const p = this.p as FuzzPeer | undefined;
    const expectedClose = this.expectedClose;
    if (this.connectionWasOpen && p !== undefined && expectedClose !== null) {
      if (expectedClose.closedByMe !== p.closedByMe) {
        this.behaviorClose = CloseBehavior.FAILED;
        this.resultClose = 'The connection was failed by the wrong endpoint';
      } else if (expectedClose.requireClean && !p.wasClean) {
        this.behaviorClose = CloseBehavior.UNCLEAN;
        this.resultClose = 'The spec requires the connection to be failed cleanly here';
      } else if (p.remoteCloseCode !== null && !expectedClose.closeCode.includes(p.remoteCloseCode)) {
        this.behaviorClose = CloseBehavior.WRONG_CODE;
        this.resultClose = `The close code should have been ${expectedClose.closeCode.join(',')} or empty`;
      } else if (!this.isServer && p.droppedByMe) {
        this.behaviorClose = CloseBehavior.FAILED_BY_CLIENT;
        this.resultClose = 'It is preferred that the server close the TCP connection';
      } else {
        this.behaviorClose = CloseBehavior.OK;
        this.resultClose = 'Connection was properly closed';
      }
      if (expectedClose.closedByWrongEndpointIsFatal === true && expectedClose.closedByMe !== p.closedByMe) {
        this.behavior = Behavior.FAILED;
      }
    } else if (!this.connectionWasOpen) {
      this.behaviorClose = CloseBehavior.FAILED;
      this.resultClose = 'The WebSocket opening handshake was never completed!';
    }
    this.definition.onConnectionLost?.(this);
    this.explainTimeouts();
  }

  /**
   * When a wait ran out and the verdict is not OK, say so in the reasons: "Timed out after N s
   * waiting for ...". The verdict stays Autobahn's (a peer that never answers does fail), but a
   * timeout reads as one, and is not mistaken for a wrong result. Received events that differ from
   * every expected list (not merely fewer of them) remain a wrong result.
   */
  private explainTimeouts(): void {
    const expired: ReadonlyArray<ExpiredWait> = (this.p as FuzzPeer | undefined)?.expired ?? [];
    const caseDeadline = expired.find((e) => e.wait === 'close-after' || e.wait === 'kill-after');
    const limit = this.expiredLimits[0];
    const notes: string[] = [];
    // Received events that differ from every expected list: a wrong result, whatever ran out after.
    let wrongResult = false;
    if (this.behavior === Behavior.FAILED) {
      let note: string | null = null;
      if (caseDeadline === undefined && limit !== undefined) {
        note = `Timed out after ${limit.seconds} s waiting for ${limit.what}.`;
      } else if (caseDeadline !== undefined) {
        if (this.expected.size === 0) {
          // The case scores itself (sections 9, 12, 13): its result says what had not arrived yet.
          note = `Timed out after ${caseDeadline.seconds} s: ${this.result}`;
        } else {
          const incomplete = [...this.expected.values()].filter((events) => isPrefix(this.received, events));
          if (incomplete.length > 0) {
            const wanted = Math.min(...incomplete.map((events) => events.length));
            note = `Timed out after ${caseDeadline.seconds} s waiting for the expected events (${this.received.length} of ${wanted} arrived).`;
          }
        }
      }
      if (note !== null) {
        this.result = note;
        notes.push(note);
      } else {
        wrongResult = true;
      }
    }
    if (!wrongResult && this.behaviorClose !== CloseBehavior.OK && this.behaviorClose !== CloseBehavior.INFORMATIONAL && this.behaviorClose !== CloseBehavior.UNIMPLEMENTED) {
      const waits: string[] = [];
      if (limit !== undefined) waits.push(`Timed out after ${limit.seconds} s waiting for ${limit.what}`);
      for (const e of expired) {
        if (e.wait === 'kill-after') {
          const what = this.expectedClose?.closedByMe === false ? 'the peer to close the connection' : 'the case to complete';
          waits.push(`Timed out after ${e.seconds} s waiting for ${what} (so we failed the connection)`);
        }
        else if (e.wait === 'close-handshake') waits.push(`Timed out after ${e.seconds} s waiting for the peer's close frame (so we dropped TCP)`);
        else if (e.wait === 'server-connection-drop') waits.push(`Timed out after ${e.seconds} s waiting for the server to close TCP (so we dropped it)`);
      }
      if (waits.length > 0) {
        this.resultClose = `${[...new Set(waits)].join('; ')}: ${this.resultClose}`;
        notes.push(waits[0]! + '.');
      }
    }
    if (notes.length > 0 && combineVerdict(this.behavior, this.behaviorClose) !== 'OK') this.timedOut = notes[0]!;
  }

  /** Mark the case as not applicable (an extension the peer does not implement). */
  unimplemented(reason: string): void {
    this.behavior = Behavior.UNIMPLEMENTED;
    this.behaviorClose = CloseBehavior.UNIMPLEMENTED;
    this.result = reason;
    this.resultClose = reason;
  }

  get durationMs(): number {
    return this.endedAt > this.startedAt && this.startedAt > 0 ? this.endedAt - this.startedAt : 0;
  }

  toResult(): CaseResult {
    const p = this.p as FuzzPeer | undefined;
    const expected: Record<string, EventSummary[]> = {};
    for (const [behavior, events] of this.expected) expected[behavior] = events.map(summarize);
    return {
      id: this.definition.id,
      description: this.definition.description,
      expectation: this.definition.expectation,
      verdict: combineVerdict(this.behavior, this.behaviorClose),
      behavior: this.behavior,
      behaviorClose: this.behaviorClose,
      result: this.result,
      resultClose: this.resultClose,
      timedOut: this.timedOut,
      expected,
      received: this.received.map(summarize),
      expectedClose: this.expectedClose,
      observed: {
        connectionWasOpen: this.connectionWasOpen,
        closedByMe: p?.closedByMe ?? false,
        failedByMe: p?.failedByMe ?? false,
        droppedByMe: p?.droppedByMe ?? false,
        wasClean: p?.wasClean ?? false,
        remoteCloseCode: p?.remoteCloseCode ?? null,
        remoteCloseReason: p?.remoteCloseReason ?? null,
        localCloseCode: p?.localCloseCode ?? null,
        wasCloseHandshakeTimeout: p?.wasCloseHandshakeTimeout ?? false,
        wasServerConnectionDropTimeout: p?.wasServerConnectionDropTimeout ?? false,
      },
      durationMs: this.durationMs,
      reportTime: this.reportTime,
      txFrames: Object.fromEntries(p?.txFrameStats ?? []),
      rxFrames: Object.fromEntries(p?.rxFrameStats ?? []),
      handshake: { request: this.handshakeRequest, response: this.handshakeResponse },
      wirelog: p?.wirelog ?? [],
    };
  }
}

function sameEvents(a: readonly CaseEvent[], b: readonly CaseEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.type !== y.type) return false;
    if (x.type === 'timeout') {
      if (x.tag !== (y as typeof x).tag) return false;
    } else if (!x.payload.equals((y as typeof x).payload)) {
      return false;
    } else if (x.type === 'message' && x.binary !== (y as typeof x).binary) {
      return false;
    }
  }
  return true;
}

/** `a` is the start of `b`, and shorter: the rest of `b` had not arrived. */
function isPrefix(a: readonly CaseEvent[], b: readonly CaseEvent[]): boolean {
  return a.length < b.length && sameEvents(a, b.slice(0, a.length));
}

function summarize(event: CaseEvent): EventSummary {
  if (event.type === 'timeout') return { type: 'timeout', tag: event.tag };
  if (event.type === 'message') return { type: 'message', length: event.payload.length, preview: preview(event.payload), binary: event.binary };
  return { type: event.type, length: event.payload.length, preview: preview(event.payload) };
}
