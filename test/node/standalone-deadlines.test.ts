import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineEntry, DeadlineList } from '../../src/node/standalone-deadlines.js';
import { scaled } from '../helpers/time.js';

class Entry extends DeadlineEntry {
  constructor(readonly name: string) {
    super();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('DeadlineList: one timer for deadlines of the same length', () => {
  it('expires each entry still listed, in the order added, not before its delay', async () => {
    const expired: Array<{ name: string; after: number }> = [];
    const started = new Map<string, number>();
    const list = new DeadlineList<Entry>(50, (entry) => expired.push({ name: entry.name, after: performance.now() - started.get(entry.name)! }));
    const add = (name: string): Entry => {
      const entry = new Entry(name);
      started.set(name, performance.now());
      list.add(entry);
      return entry;
    };
    add('a');
    const b = add('b');
    await sleep(20);
    add('c');
    list.remove(b);
    list.remove(b); // twice: nothing happens
    const deadline = performance.now() + scaled(5000);
    while (expired.length < 2 && performance.now() < deadline) await sleep(10);
    assert.deepEqual(expired.map((e) => e.name), ['a', 'c']);
    for (const { name, after } of expired) assert.ok(after >= 49, `${name} expired after ${after} ms`);
  });

  it('an entry removed before its deadline never expires; the list is empty afterwards and can be used again', async () => {
    const expired: string[] = [];
    const list = new DeadlineList<Entry>(20, (entry) => expired.push(entry.name));
    const entries = ['a', 'b', 'c'].map((name) => new Entry(name));
    for (const entry of entries) list.add(entry);
    list.remove(entries[1]!);
    list.remove(entries[0]!);
    list.remove(entries[2]!);
    await sleep(60);
    assert.deepEqual(expired, []);
    list.add(entries[1]!);
    const deadline = performance.now() + scaled(5000);
    while (expired.length < 1 && performance.now() < deadline) await sleep(10);
    assert.deepEqual(expired, ['b']);
  });
});
