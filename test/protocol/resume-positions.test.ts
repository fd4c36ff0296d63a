import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resumePositions } from '../../src/protocol/resume-positions.js';
import { ResumeState } from '../../src/protocol/resume-state.js';
import { encodeDataFrame, encodeServerControl, encodeText } from '../../src/protocol/resume-wire.js';

describe('resumePositions', () => {
  it('is empty when no topic is wanted', () => {
    assert.deepEqual(resumePositions(new ResumeState({ session: 's' })), {});
  });

  it('lists every wanted topic in subscription order: null until a position is seen, then the last one; not the unsubscribed', () => {
    const state = new ResumeState({ session: 's' });
    state.subscribe('b');
    state.subscribe('a', { from: { epoch: 'e0', offset: 7 } });
    state.subscribe('gone');
    state.unsubscribe('gone');
    state.subscribe('c');
    state.onOpen();
    state.onMessage(encodeServerControl({ t: 'welcome', v: 1, session: 's' }));
    state.onMessage(encodeServerControl({ t: 'subscribed', id: 1, topic: 'b', alias: 1, epoch: 'e1', offset: 4, replay: 0, gap: null }));
    state.onMessage(encodeDataFrame(1, 5, encodeText('m5'), false));
    const positions = resumePositions(state);
    assert.deepEqual(Object.keys(positions), ['b', 'a', 'c']);
    assert.deepEqual(positions, { b: { epoch: 'e1', offset: 5 }, a: { epoch: 'e0', offset: 7 }, c: null });
  });
});
