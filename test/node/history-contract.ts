/**
 * The HistoryStore contract (src/node/history.ts) as a suite, run against every store:
 * test/node/memory-history.test.ts and test/node/redis-history.test.ts call `historyContract` with a
 * harness that makes stores of their kind.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEntry, HistoryGapReason, HistoryRead, HistorySink, HistoryStore, Position } from '../../src/node/history.js';
import { scaled } from '../helpers/time.js';

export interface HistoryHarness {
  /** A new store attached to `sink`. Stores of one harness share their history (one broker). */
  open(sink: HistorySink): Promise<HistoryStore>;
  /** Resolves once every `subscribe`/`unsubscribe` of `store` so far is in effect (its feeds are live). */
  settled(store: HistoryStore): Promise<void>;
  /** The age bound the age tests use: long enough that a fresh entry is surely still young when read right away. */
  readonly ageMs: number;
  /** Let more than `ms` pass on the store's clock. */
  advance(ms: number): Promise<void>;
  /** Close every store opened and anything else the harness started. */
  dispose(): Promise<void>;
}

export interface Delivery {
  readonly topic: string;
  readonly epoch: string;
  readonly offset: number;
  readonly text: string;
  readonly binary: boolean;
}

export interface Reset {
  readonly topic: string;
  readonly position: Position;
  readonly reason: HistoryGapReason;
}

/** A sink that records what it is given. */
export class RecordingSink implements HistorySink {
  readonly delivered: Delivery[] = [];
  readonly resets: Reset[] = [];

  deliver(topic: string, epoch: string, entry: HistoryEntry): void {
    this.delivered.push({ topic, epoch, offset: entry.offset, text: entry.payload.toString(), binary: entry.binary });
  }

  reset(topic: string, position: Position, reason: HistoryGapReason): void {
    this.resets.push({ topic, position, reason });
  }

  on(topic: string): Delivery[] {
    return this.delivered.filter((d) => d.topic === topic);
  }

  offsets(topic: string): number[] {
    return this.on(topic).map((d) => d.offset);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it returns true, or fail naming `what` (a scaled hang guard). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = scaled(10_000)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function texts(read: HistoryRead): string[] {
  assert.equal(read.kind, 'entries', `expected entries, got ${JSON.stringify(read)}`);
  return read.kind === 'entries' ? read.entries.map((e) => e.payload.toString()) : [];
}

export function offsetsOf(read: HistoryRead): number[] {
  assert.equal(read.kind, 'entries', `expected entries, got ${JSON.stringify(read)}`);
  return read.kind === 'entries' ? read.entries.map((e) => e.offset) : [];
}

const text = (s: string): Buffer => Buffer.from(s);
const BIG = { maxMessages: 10_000 };

export function historyContract(name: string, skip: string | false, makeHarness: () => Promise<HistoryHarness>): void {
  describe(`${name}: the HistoryStore contract`, { skip, timeout: scaled(120_000) }, () => {
    const harnesses: HistoryHarness[] = [];
    let topicCounter = 0;
    const topic = (): string => `topic-${++topicCounter}`;

    async function setup(): Promise<{ h: HistoryHarness; store: HistoryStore; sink: RecordingSink }> {
      const h = await makeHarness();
      harnesses.push(h);
      const sink = new RecordingSink();
      return { h, store: await h.open(sink), sink };
    }

    after(async () => {
      await Promise.all(harnesses.map((h) => h.dispose()));
    });

    it('gives offsets 1, 2, 3 ... per topic in one epoch, and the position is the latest', async () => {
      const { store } = await setup();
      const a = topic();
      const b = topic();
      const empty = await store.position(a);
      assert.match(empty.epoch, /^[A-Za-z0-9_-]{11}$/);
      assert.equal(empty.offset, 0);
      const positions: Position[] = [];
      for (let i = 0; i < 5; i++) positions.push(await store.append(a, text(`a${i}`), false, BIG));
      positions.push(await store.append(b, text('b0'), false, BIG));
      assert.deepEqual(positions.slice(0, 5).map((p) => p.offset), [1, 2, 3, 4, 5]);
      assert.ok(positions.slice(0, 5).every((p) => p.epoch === empty.epoch), 'one epoch for the topic');
      assert.equal(positions[5]!.offset, 1, 'each topic counts on its own');
      assert.deepEqual(await store.position(a), { epoch: empty.epoch, offset: 5 });
    });

    it('reads the entries after an offset, at most limit, and [] when caught up', async () => {
      const { store } = await setup();
      const t = topic();
      const { epoch } = await store.append(t, text('one'), false, BIG);
      await store.append(t, Buffer.from([0, 1, 2, 255]), true, BIG);
      for (let i = 3; i <= 6; i++) await store.append(t, text(`m${i}`), false, BIG);

      const all = await store.read(t, epoch, 0, 100);
      assert.equal(all.kind, 'entries');
      assert.ok(all.kind === 'entries');
      assert.equal(all.epoch, epoch);
      assert.equal(all.top, 6);
      assert.deepEqual(all.entries.map((e) => e.offset), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(all.entries.map((e) => e.binary), [false, true, false, false, false, false]);
      assert.deepEqual([...all.entries[1]!.payload], [0, 1, 2, 255], 'binary payload bytes unchanged');
      assert.equal(all.entries[0]!.payload.toString(), 'one');

      assert.deepEqual(offsetsOf(await store.read(t, epoch, 2, 2)), [3, 4]);
      assert.deepEqual(offsetsOf(await store.read(t, null, 4, 100)), [5, 6], 'null: the current epoch');
      const caughtUp = await store.read(t, epoch, 6, 10);
      assert.deepEqual(caughtUp, { kind: 'entries', epoch, entries: [], top: 6 });
      assert.deepEqual(await store.read(topic(), null, 0, 10).then((r) => (r.kind === 'entries' ? [r.entries.length, r.top] : r)), [0, 0], 'a new topic: nothing, top 0');
    });

    it('keeps at most maxMessages: older positions are gone (trimmed)', async () => {
      const { store } = await setup();
      const t = topic();
      let epoch = '';
      for (let i = 1; i <= 8; i++) epoch = (await store.append(t, text(`m${i}`), false, { maxMessages: 3 })).epoch;
      for (const after of [0, 1, 4]) {
        assert.deepEqual(await store.read(t, epoch, after, 10), { kind: 'gone', epoch, top: 8, first: 6, reason: 'trimmed' }, `after ${after}`);
      }
      assert.deepEqual(texts(await store.read(t, epoch, 5, 10)), ['m6', 'm7', 'm8']);
      assert.deepEqual(texts(await store.read(t, epoch, 7, 10)), ['m8']);
      assert.deepEqual(offsetsOf(await store.read(t, epoch, 8, 10)), []);
      // A smaller bound on a later append applies at once.
      await store.append(t, text('m9'), false, { maxMessages: 1 });
      assert.equal((await store.read(t, epoch, 7, 10)).kind, 'gone');
      assert.deepEqual(texts(await store.read(t, epoch, 8, 10)), ['m9']);
    });

    it('drops messages older than maxAgeMs, when appending and when reading', async () => {
      const { h, store } = await setup();
      const t = topic();
      const bounds = { maxMessages: 100, maxAgeMs: h.ageMs };
      let epoch = '';
      for (let i = 1; i <= 3; i++) epoch = (await store.append(t, text(`old${i}`), false, bounds)).epoch;
      await h.advance(h.ageMs);
      await store.append(t, text('new4'), false, bounds);
      await store.append(t, text('new5'), false, bounds);
      assert.deepEqual(await store.read(t, epoch, 0, 10), { kind: 'gone', epoch, top: 5, first: 4, reason: 'trimmed' }, 'first: the oldest kept');
      assert.deepEqual(await store.read(t, epoch, 2, 10), { kind: 'gone', epoch, top: 5, first: 4, reason: 'trimmed' });
      assert.deepEqual(await store.read(t, epoch, 0, 2), { kind: 'gone', epoch, top: 5, first: 4, reason: 'trimmed' }, 'first also when more than limit are too old');
      assert.deepEqual(await store.read(t, 'AAAAAAAAAAA', 0, 10), { kind: 'gone', epoch, top: 5, first: 4, reason: 'epoch' }, 'first of the current epoch');
      assert.deepEqual(texts(await store.read(t, epoch, 3, 10)), ['new4', 'new5']);
      // Nothing appended since: the age is checked by read itself.
      await h.advance(h.ageMs);
      assert.deepEqual(await store.read(t, epoch, 3, 10), { kind: 'gone', epoch, top: 5, first: 6, reason: 'trimmed' }, 'none kept: first is top + 1');
      assert.deepEqual(await store.read(t, epoch, 5, 10), { kind: 'entries', epoch, entries: [], top: 5 }, 'caught up is still caught up');
    });

    it('answers gone (epoch) for a position of another epoch, or past the top', async () => {
      const { store } = await setup();
      const t = topic();
      const { epoch } = await store.append(t, text('x'), false, BIG);
      assert.deepEqual(await store.read(t, 'AAAAAAAAAAA', 0, 10), { kind: 'gone', epoch, top: 1, first: 1, reason: 'epoch' });
      assert.deepEqual(await store.read(t, 'AAAAAAAAAAA', 1, 10), { kind: 'gone', epoch, top: 1, first: 1, reason: 'epoch' });
      assert.deepEqual(await store.read(t, epoch, 2, 10), { kind: 'gone', epoch, top: 1, first: 1, reason: 'epoch' }, 'an offset this history never gave');
    });

    it('rejects bad arguments with a clear error', async () => {
      const { store } = await setup();
      const t = topic();
      await assert.rejects(store.append(t, text('x'), false, { maxMessages: 0 }), RangeError);
      await assert.rejects(store.append(t, text('x'), false, { maxMessages: 1.5 }), RangeError);
      await assert.rejects(store.append(t, text('x'), false, { maxMessages: 5, maxAgeMs: -1 }), RangeError);
      await assert.rejects(store.append(t, 'x' as unknown as Buffer, false, BIG), TypeError);
      await assert.rejects(store.read(t, null, -1, 10), RangeError);
      await assert.rejects(store.read(t, null, 0, 0), RangeError);
      await assert.rejects(store.read(t, 5 as unknown as string, 0, 10), TypeError);
      assert.equal((await store.position(t)).offset, 0, 'nothing was appended');
    });

    it('appends once per idempotency key: a key seen before appends nothing and answers the first position, atomically', async () => {
      const { h, store, sink } = await setup();
      const t = topic();
      const other = topic();
      store.subscribe(t);
      await h.settled(store);
      const first = await store.append(t, text('one'), false, BIG, 'k1');
      assert.equal(first.offset, 1);
      assert.deepEqual(await store.append(t, text('one again'), false, BIG, 'k1'), first, 'a redelivery: no-op, the first position');
      const racing = await Promise.all([store.append(t, text('two'), false, BIG, 'k2'), store.append(t, text('two'), false, BIG, 'k2')]);
      assert.deepEqual(racing.map((p) => p.offset), [2, 2], 'two at once with one key: one append');
      assert.equal((await store.append(t, text('three'), false, BIG)).offset, 3, 'no key: always appended');
      assert.equal((await store.append(other, text('one'), false, BIG, 'k1')).offset, 1, 'keys are per topic');
      assert.deepEqual(await store.append(t, text('one, later'), false, BIG, 'k1'), first);
      assert.deepEqual(texts(await store.read(t, first.epoch, 0, 100)), ['one', 'two', 'three'], 'kept once each');
      assert.equal((await store.position(t)).offset, 3);
      await until('3 deliveries', () => sink.on(t).length >= 3);
      await sleep(50);
      assert.deepEqual(sink.offsets(t), [1, 2, 3], 'fed once each');
      await assert.rejects(store.append(t, text('x'), false, BIG, ''), TypeError);
      await assert.rejects(store.append(t, text('x'), false, BIG, 'k'.repeat(513)), TypeError);
      await assert.rejects(store.append(t, text('x'), false, BIG, 5 as unknown as string), TypeError);
      assert.equal((await store.position(t)).offset, 3, 'nothing appended by the bad calls');
    });

    it('feeds a subscribed topic from its current position, in offset order, once each, with several publishers at once', async () => {
      const { h, store, sink } = await setup();
      const t = topic();
      for (let i = 0; i < 3; i++) await store.append(t, text(`before${i}`), false, BIG);
      store.subscribe(t);
      await h.settled(store);
      const publishers = 4;
      const each = 50;
      const positions = new Map<string, Position>();
      await Promise.all(
        Array.from({ length: publishers }, async (_, p) => {
          // Each publisher keeps several appends in flight, then goes on.
          for (let i = 0; i < each; i += 5) {
            await Promise.all(
              [0, 1, 2, 3, 4].map(async (k) => {
                const payload = `p${p}:${i + k}`;
                positions.set(payload, await store.append(t, text(payload), false, BIG));
              }),
            );
          }
        }),
      );
      const total = publishers * each;
      await until(`${total} deliveries`, () => sink.on(t).length >= total);
      await sleep(50);
      const got = sink.on(t);
      assert.deepEqual(got.map((d) => d.offset), Array.from({ length: total }, (_, i) => i + 4), 'offsets 4 ... in order, no gap, no duplicate');
      for (const d of got) assert.equal(positions.get(d.text)?.offset, d.offset, `${d.text} at the offset append gave it`);
      for (let p = 0; p < publishers; p++) {
        const mine = got.filter((d) => d.text.startsWith(`p${p}:`)).map((d) => Number(d.text.split(':')[1]));
        for (let i = 0; i < each; i += 5) assert.deepEqual(mine.slice(i, i + 5).sort((x, y) => x - y), [i, i + 1, i + 2, i + 3, i + 4], 'batches in order');
      }
      assert.deepEqual(sink.resets, []);
    });

    it('stops feeding a topic after unsubscribe (other topics go on)', async () => {
      const { h, store, sink } = await setup();
      const t = topic();
      const fence = topic();
      store.subscribe(t);
      store.subscribe(fence);
      await h.settled(store);
      await store.append(t, text('seen'), false, BIG);
      await until('the first delivery', () => sink.on(t).length === 1);
      store.unsubscribe(t);
      await h.settled(store);
      await store.append(t, text('unseen1'), false, BIG);
      await store.append(t, text('unseen2'), false, BIG);
      await store.append(fence, text('fence'), false, BIG);
      await until('the fence', () => sink.on(fence).length === 1);
      await sleep(50);
      assert.deepEqual(sink.on(t).map((d) => d.text), ['seen']);
      // Subscribing again starts from the position then: nothing old comes back.
      store.subscribe(t);
      await h.settled(store);
      await store.append(t, text('again'), false, BIG);
      await until('the delivery after subscribing again', () => sink.on(t).length === 2);
      assert.deepEqual(sink.on(t).map((d) => [d.offset, d.text]), [
        [1, 'seen'],
        [4, 'again'],
      ]);
      assert.deepEqual(sink.resets, []);
    });

    it('rejects appends after close()', async () => {
      const { store } = await setup();
      await store.close();
      await assert.rejects(store.append(topic(), text('x'), false, BIG), /closed/);
    });
  });
}
