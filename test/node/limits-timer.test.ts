import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineQueue, type Deadline } from '../../src/node/limits-timer.js';
import { waitFor } from '../helpers/protocol.js';

function entry(fired: number[], id: number): Deadline {
  return { at: 0, index: -1, fire: () => fired.push(id) };
}

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

test('a DeadlineQueue fires its entries in deadline order, each once, with one timer for all', async () => {
  let now = 1000;
  const queue = new DeadlineQueue(() => now);
  const fired: number[] = [];
  const before = activeTimeouts();
  const order = Array.from({ length: 500 }, (_, i) => i).sort(() => Math.random() - 0.5);
  for (const id of order) queue.schedule(entry(fired, id), 1000 + id / 10);
  assert.ok(activeTimeouts() - before <= 1, 'at most one timer');
  now = 2000; // everything is due at the next wake-up
  await waitFor(() => fired.length === 500, undefined, 'the entries to fire');
  assert.deepEqual(fired, [...fired].sort((a, b) => a - b));
  assert.equal(queue.size, 0);
});

test('a removed entry never fires; a rescheduled one fires once, at its new place', async () => {
  let now = 0;
  const queue = new DeadlineQueue(() => now);
  const fired: number[] = [];
  const entries = Array.from({ length: 50 }, (_, i) => entry(fired, i));
  for (const [i, e] of entries.entries()) queue.schedule(e, i);
  for (const e of entries.filter((_, i) => i % 3 === 0)) queue.remove(e);
  queue.remove(entries[0]!); // twice: nothing
  queue.schedule(entries[1]!, 1000); // moved to the end
  assert.equal(queue.size, 50 - 17);
  now = 10_000;
  await waitFor(() => fired.length === 33, undefined, 'the entries to fire');
  const expected = entries.map((_, i) => i).filter((i) => i % 3 !== 0 && i !== 1);
  assert.deepEqual(fired, [...expected, 1]);
});

test('entries scheduled while firing are kept, and the queue arms itself again', async () => {
  let now = 0;
  const queue = new DeadlineQueue(() => now);
  const fired: string[] = [];
  const late: Deadline = { at: 0, index: -1, fire: () => fired.push('late') };
  const first: Deadline = {
    at: 0,
    index: -1,
    fire: () => {
      fired.push('first');
      queue.schedule(late, now + 5);
    },
  };
  queue.schedule(first, 0);
  now = 1;
  await waitFor(() => fired.length === 1, undefined, 'the first entry');
  now = 100;
  await waitFor(() => fired.length === 2, undefined, 'the entry scheduled by the first');
  assert.deepEqual(fired, ['first', 'late']);
});

test('turnClock reads the clock once per turn of the event loop', async () => {
  const { turnClock } = await import('../../src/node/limits-timer.js');
  const first = turnClock();
  const spin = performance.now() + 2;
  while (performance.now() < spin); // time passes within the turn
  assert.equal(turnClock(), first);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(turnClock() > first);
});
