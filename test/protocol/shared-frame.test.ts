import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SharedFrame, type SharedFrameWaiter } from '../../src/protocol/shared-frame.js';

/** A waiter that counts how often it was told. */
function waiter(log: string[], name: string): SharedFrameWaiter {
  return { sharedFrameSettled: () => void log.push(name) };
}

describe('SharedFrame', () => {
  it('starts unsettled, with the size given for accounting', () => {
    const frame = new SharedFrame(1234);
    assert.equal(frame.size, 1234);
    assert.equal(frame.settled, false);
    assert.equal(frame.chunks, null);
    assert.equal(frame.error, null);
  });

  it('tells every waiter once, in the order they came, when completed', () => {
    const log: string[] = [];
    const frame = new SharedFrame(3);
    frame.wait(waiter(log, 'a'));
    frame.wait(waiter(log, 'b'));
    frame.wait(waiter(log, 'c'));
    assert.deepEqual(log, []);
    const bytes = [Buffer.from([0xc1, 0x01, 0x00])];
    frame.complete(bytes);
    assert.deepEqual(log, ['a', 'b', 'c']);
    assert.equal(frame.settled, true);
    assert.equal(frame.chunks, bytes);
    // Settling again changes nothing and tells nobody.
    frame.complete([Buffer.from('other')]);
    frame.fail(new Error('late'));
    assert.deepEqual(log, ['a', 'b', 'c']);
    assert.equal(frame.chunks, bytes);
    assert.equal(frame.error, null);
  });

  it('tells every waiter once when it fails, and keeps the error', () => {
    const log: string[] = [];
    const frame = new SharedFrame(3);
    frame.wait(waiter(log, 'a'));
    frame.wait(waiter(log, 'b'));
    const error = new Error('zlib failed');
    frame.fail(error);
    frame.complete([Buffer.from('late')]);
    assert.deepEqual(log, ['a', 'b']);
    assert.equal(frame.settled, true);
    assert.equal(frame.error, error);
    assert.equal(frame.chunks, null);
  });

  it('settles with nobody waiting (every connection had written it or closed)', () => {
    const frame = new SharedFrame(1);
    frame.complete([Buffer.alloc(3)]);
    assert.equal(frame.settled, true);
    assert.equal(frame.chunks?.[0]?.length, 3);
  });
});
