import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeAcceptKey, formatHeaderLines, formatRejection, listHeader, singleHeader } from '../../src/protocol/handshake.js';

describe('handshake helpers', () => {
  it('computes the RFC 6455 §1.3 accept key', () => {
    // The RFC's example: key "dGhlIHNhbXBsZSBub25jZQ==" -> "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
    assert.equal(computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('joins repeated list headers and flags repeated single headers', () => {
    assert.equal(listHeader({ a: ['x', 'y'] }, 'a'), 'x, y');
    assert.equal(listHeader({}, 'a'), undefined);
    assert.deepEqual(singleHeader({ a: ['x', 'y'] }, 'a'), { value: 'x', repeated: true });
    assert.deepEqual(singleHeader({ a: ['x'] }, 'a'), { value: 'x', repeated: false });
    assert.deepEqual(singleHeader({ a: 'x' }, 'a'), { value: 'x', repeated: false });
  });

  it('formats header lines, one per value, refusing CR, LF and NUL', () => {
    assert.equal(formatHeaderLines({ A: '1', B: ['2', '3'], C: 4 }), 'A: 1\r\nB: 2\r\nB: 3\r\nC: 4\r\n');
    assert.throws(() => formatHeaderLines({ 'A\r\nB': 'x' }), TypeError);
    assert.throws(() => formatHeaderLines({ A: 'x\ny' }), TypeError);
    assert.throws(() => formatHeaderLines({ A: 'x\0' }), TypeError);
  });

  it('formats a rejection with status, headers and a body, closing the connection', () => {
    const text = formatRejection(426, 'Upgrade required', { 'Sec-WebSocket-Version': '13' });
    assert.match(text, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.match(text, /\r\nSec-WebSocket-Version: 13\r\n/);
    assert.match(text, /\r\nConnection: close\r\n/);
    assert.match(text, /\r\nContent-Length: 16\r\n/);
    assert.match(text, /\r\n\r\nUpgrade required$/);
  });

  it('counts the body length in bytes', () => {
    assert.match(formatRejection(400, 'é'), /Content-Length: 2\r\n/);
    assert.match(formatRejection(503, ''), /\r\n\r\nService Unavailable$/);
  });
});
