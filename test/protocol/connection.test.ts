import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, type ConnectionOptions } from '../../src/protocol/connection.js';
import { ReadyState, type CloseResult } from '../../src/protocol/close-handshake.js';
import { Opcode, RSV1 } from '../../src/protocol/constants.js';
import type { MessageDecoder, MessageEncoder } from '../../src/protocol/extension.js';
import { frame } from '../helpers/protocol.js';
import { SharedFrame } from '../../src/protocol/shared-frame.js';
import { serializeFrame } from '../../src/protocol/frame-serializer.js';

/** One end of a simulated transport: what the connection wrote, what it reported. */
class End {
  readonly outbox: Buffer[] = [];
  readonly log: string[] = [];
  transportClosed = false;
  connection!: Connection;
  result: CloseResult | null = null;

  constructor(readonly name: string) {}

  handler() {
    return {
      write: (chunk: Buffer) => {
        assert.equal(this.transportClosed, false, `${this.name} wrote after closing the transport`);
        this.outbox.push(Buffer.from(chunk));
      },
      onMessage: (data: Buffer | Buffer[], isBinary: boolean) =>
        this.log.push(`${isBinary ? 'binary' : 'text'}:${(Array.isArray(data) ? Buffer.concat(data) : data).toString()}`),
      onPing: (data: Buffer) => this.log.push(`ping:${data.toString()}`),
      onPong: (data: Buffer) => this.log.push(`pong:${data.toString()}`),
      onCloseFrame: (code: number, reason: Buffer) => this.log.push(`close:${code}:${reason.toString()}`),
      onProtocolError: (error: { closeCode: number }) => this.log.push(`error:${error.closeCode}`),
      closeTransport: () => {
        this.transportClosed = true;
        this.log.push('closeTransport');
      },
    };
  }
}

function pair(client: Partial<ConnectionOptions> = {}, server: Partial<ConnectionOptions> = {}) {
  const c = new End('client');
  const s = new End('server');
  c.connection = new Connection({ role: 'client', ...client }, c.handler());
  s.connection = new Connection({ role: 'server', ...server }, s.handler());
  /** Deliver written bytes both ways until nothing moves; a closed transport ends delivery. */
  const pump = (): void => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const [from, to] of [
        [c, s],
        [s, c],
      ] as const) {
        while (from.outbox.length > 0) {
          const chunk = from.outbox.shift()!;
          if (!to.result) to.connection.receive(chunk);
          moved = true;
        }
        if (from.transportClosed && !from.result) {
          from.result = from.connection.transportClosed();
          to.result ??= to.connection.transportClosed();
        }
      }
    }
  };
  return { c, s, pump };
}

describe('Connection: two ends back to back', () => {
  it('exchanges text and binary messages both ways', () => {
    const { c, s, pump } = pair();
    c.connection.sendText('hello');
    c.connection.sendBinary(Buffer.from('bytes'));
    s.connection.sendText('hi back');
    pump();
    assert.deepEqual(s.log, ['text:hello', 'binary:bytes']);
    assert.deepEqual(c.log, ['text:hi back']);
  });

  it('answers pings with pongs carrying the same data', () => {
    const { c, s, pump } = pair();
    c.connection.ping(Buffer.from('p1'));
    pump();
    assert.deepEqual(s.log, ['ping:p1']);
    assert.deepEqual(c.log, ['pong:p1']);
  });

  it('does not answer pings when autoPong is off', () => {
    const { c, s, pump } = pair({}, { autoPong: false });
    c.connection.ping(Buffer.from('p1'));
    pump();
    assert.deepEqual(c.log, []);
    assert.deepEqual(s.log, ['ping:p1']);
  });

  it('sends a fragmented message with control frames in between', () => {
    const { c, s, pump } = pair();
    c.connection.sendText('frag', { fin: false });
    c.connection.ping(Buffer.from('mid'));
    c.connection.sendText('ment', { fin: false });
    c.connection.sendText('ed');
    pump();
    assert.deepEqual(s.log, ['ping:mid', 'text:fragmented']);
    assert.throws(() => {
      c.connection.sendBinary(Buffer.from('a'), { fin: false });
      c.connection.sendText('b');
    }, /interleave/);
  });

  it('client-initiated close: echo, server closes TCP first, both clean', () => {
    const { c, s, pump } = pair();
    c.connection.close(4000, 'done');
    assert.equal(c.connection.readyState, ReadyState.CLOSING);
    assert.throws(() => c.connection.sendText('late'), /closing/);
    pump();
    assert.deepEqual(s.log, ['close:4000:done', 'closeTransport']);
    assert.deepEqual(c.log, ['close:4000:']);
    assert.equal(c.transportClosed, false, 'the client waits for the server to close TCP');
    assert.equal(s.result?.wasClean, true);
    assert.equal(c.result?.wasClean, true);
    assert.equal(s.result?.code, 4000);
  });

  it('server-initiated close: the server closes TCP after the client\'s answer', () => {
    const { c, s, pump } = pair();
    s.connection.close(1001, 'going away');
    pump();
    assert.deepEqual(c.log, ['close:1001:going away']);
    assert.deepEqual(s.log, ['close:1001:', 'closeTransport']);
    assert.equal(c.result?.code, 1001);
    assert.equal(c.result?.wasClean, true);
  });

  it('a close without a code is answered without one and reported as 1005', () => {
    const { c, s, pump } = pair();
    c.connection.close();
    pump();
    assert.deepEqual(s.log, ['close:1005:', 'closeTransport']);
    assert.deepEqual(c.log, ['close:1005:']);
  });

  it('messages received while closing are still delivered', () => {
    const { c, s, pump } = pair();
    s.connection.sendText('in flight');
    c.connection.close(1000);
    pump();
    assert.deepEqual(c.log, ['text:in flight', 'close:1000:']);
  });

  it('simultaneous close: both sent close, both clean', () => {
    const { c, s, pump } = pair();
    c.connection.close(1000, 'c');
    s.connection.close(1000, 's');
    pump();
    assert.equal(s.result?.wasClean, true);
    assert.equal(c.result?.wasClean, true);
    assert.deepEqual(s.log, ['close:1000:c', 'closeTransport']);
  });

  it('a protocol error fails the connection: close with the code, TCP closed at once', () => {
    const { c, s, pump } = pair();
    // An unmasked frame from the "client".
    s.connection.receive(frame(Opcode.Text, 'x', { mask: null }));
    assert.deepEqual(s.log, ['error:1002', 'closeTransport']);
    pump();
    assert.deepEqual(c.log, ['close:1002:Frame from client is not masked']);
    assert.equal(s.result?.code, 1002);
    assert.equal(s.result?.failed, true);
    assert.equal(s.result?.wasClean, false);
  });

  it('a message over maxPayload fails with 1009', () => {
    const { c, s, pump } = pair({}, { maxPayload: 10 });
    c.connection.sendBinary(Buffer.alloc(11));
    pump();
    assert.deepEqual(s.log, ['error:1009', 'closeTransport']);
    assert.match(c.log[0]!, /^close:1009:/);
  });

  it('fail() for a policy reason sends the code and closes', () => {
    const { c, s, pump } = pair();
    s.connection.fail(1008, 'slow consumer');
    pump();
    assert.deepEqual(c.log, ['close:1008:slow consumer']);
    assert.equal(s.transportClosed, true);
  });

  it('refuses invalid close codes, long reasons and long pings at the API', () => {
    const { c } = pair();
    assert.throws(() => c.connection.close(1005), RangeError);
    assert.throws(() => c.connection.close(1000, 'x'.repeat(124)), RangeError);
    assert.throws(() => c.connection.ping(Buffer.alloc(126)), RangeError);
    assert.equal(c.connection.readyState, ReadyState.OPEN);
  });

  it('the peer vanishing reports 1006, not clean', () => {
    const { c } = pair();
    const result = c.connection.transportClosed();
    assert.equal(result.code, 1006);
    assert.equal(result.wasClean, false);
  });
});

/** An extension that XORs every byte with 0x55, answering asynchronously (like zlib). */
function xorExtension(): { decoder: MessageDecoder; encoder: MessageEncoder } {
  const transform = (payload: readonly Buffer[]): Buffer[] => [Buffer.from(Buffer.concat(payload).map((b) => b ^ 0x55))];
  return {
    decoder: { rsv: RSV1, decode: (payload, _fin, _limit, callback) => setImmediate(() => callback(null, transform(payload))) },
    encoder: { rsv: RSV1, encode: (payload, _fin, callback) => setImmediate(() => callback(null, transform(payload))) },
  };
}

describe('Connection: an asynchronous extension keeps order', () => {
  it('sends encoded and plain messages, and the close frame, in the order they were given', async () => {
    const ext = xorExtension();
    const { c, s, pump } = pair({ encoder: ext.encoder }, { decoder: ext.decoder });
    c.connection.sendText('one', { compress: true });
    c.connection.sendText('two');
    c.connection.sendBinary(Buffer.from('three'), { compress: true });
    c.connection.close(1000);
    assert.ok(c.connection.queuedBytes > 0);
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      pump();
    }
    assert.deepEqual(s.log, ['text:one', 'text:two', 'binary:three', 'close:1000:', 'closeTransport']);
  });

  it('a peer without the extension refuses the marked frames (1002)', async () => {
    const ext = xorExtension();
    const { c, s, pump } = pair({ encoder: ext.encoder });
    c.connection.sendText('one', { compress: true });
    await new Promise((resolve) => setImmediate(resolve));
    pump();
    assert.deepEqual(s.log, ['error:1002', 'closeTransport']);
  });
});

describe('Connection: bytes received while the extension works are still pending', () => {
  it('receivePending holds from a marked message until the close frame queued behind it is processed', async () => {
    const ext = xorExtension();
    const { c, s } = pair({ encoder: ext.encoder }, { decoder: ext.decoder });
    c.connection.sendText('one', { compress: true });
    c.connection.close(1000);
    for (let i = 0; i < 3 && c.outbox.length < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.connection.receivePending, false);
    // The message and the close frame arrive in one read: the decoder holds the message, the close waits.
    s.connection.receive(Buffer.concat(c.outbox.splice(0)));
    assert.equal(s.connection.receivePending, true, 'a transport that ends now must wait');
    assert.deepEqual(s.log, []);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.connection.receivePending, false);
    assert.deepEqual(s.log, ['text:one', 'close:1000:', 'closeTransport']);
    assert.equal(s.connection.transportClosed().wasClean, true);
  });

  it('is false once the connection failed, even with a decode in flight', () => {
    const ext = xorExtension();
    const { s } = pair({}, { decoder: ext.decoder });
    s.connection.receive(frame(Opcode.Text, Buffer.from('x'), { rsv: RSV1 }));
    assert.equal(s.connection.receivePending, true);
    s.connection.fail(1008, 'policy');
    assert.equal(s.connection.receivePending, false);
  });
});

describe('Connection: a frame shared by many connections', () => {
  /** The frame a shared encoder would make of `text`: XOR-encoded (as xorExtension), RSV1 set. */
  function encodedFrame(text: string): Buffer[] {
    const chunks: Buffer[] = [];
    serializeFrame({ write: (chunk) => void chunks.push(chunk) }, Opcode.Text, Buffer.from(Buffer.from(text).map((b) => b ^ 0x55)), true, RSV1, null);
    return [Buffer.concat(chunks)];
  }

  it('takes its place in each connection\'s order at once and is written when settled', async () => {
    const ext = xorExtension();
    const pairs = [pair({ decoder: ext.decoder }, { encoder: ext.encoder }), pair({ decoder: ext.decoder }, { encoder: ext.encoder })];
    const shared = new SharedFrame(6);
    for (const { s } of pairs) {
      s.connection.sendText('before');
      s.connection.sendShared(shared);
      s.connection.sendText('own, encoded', { compress: true });
      s.connection.sendText('plain after');
      s.connection.close(1000);
    }
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      for (const { pump } of pairs) pump();
    }
    for (const { c } of pairs) assert.deepEqual(c.log, ['text:before'], 'nothing overtakes the shared frame');
    shared.complete(encodedFrame('shared'));
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      for (const { pump } of pairs) pump();
    }
    for (const { c } of pairs) assert.deepEqual(c.log.slice(0, 5), ['text:before', 'text:shared', 'text:own, encoded', 'text:plain after', 'close:1000:']);
  });

  it('a frame settled already goes straight out; one that fails fails the connection with 1011', async () => {
    const ext = xorExtension();
    const ok = pair({ decoder: ext.decoder }, { encoder: ext.encoder });
    const ready = new SharedFrame(5);
    ready.complete(encodedFrame('ready'));
    ok.s.connection.sendShared(ready);
    assert.equal(ok.s.connection.queuedBytes, 0);
    ok.pump();
    await new Promise((resolve) => setImmediate(resolve)); // the client's decoder answers asynchronously
    assert.deepEqual(ok.c.log, ['text:ready']);

    const bad = pair({ decoder: ext.decoder }, { encoder: ext.encoder });
    const failing = new SharedFrame(5);
    bad.s.connection.sendShared(failing);
    bad.s.connection.sendText('never');
    failing.fail(new Error('zlib broke'));
    bad.pump();
    assert.equal(bad.c.log[0], 'close:1011:Extension failed to encode a message');
    assert.ok(!bad.c.log.includes('text:never'));
  });

  it('is for servers, and not in the middle of a fragmented message', () => {
    const { c, s } = pair();
    assert.throws(() => c.connection.sendShared(new SharedFrame(1)), /Only a server/);
    s.connection.sendText('part', { fin: false });
    assert.throws(() => s.connection.sendShared(new SharedFrame(1)), /fragmented message in progress/);
  });
});

describe('Connection: pongs while the transport is backed up (RFC 6455 §5.5.3)', () => {
  it('answers every ping while writes flow, and only the latest while blocked', () => {
    const end = new End('server');
    let blocked = false;
    end.connection = new Connection({ role: 'server' }, { ...end.handler(), isWriteBlocked: () => blocked });
    const pongs = (): string[] => end.outbox.filter((chunk) => (chunk[0]! & 0x0f) === Opcode.Pong).map((chunk) => chunk.subarray(2).toString());
    end.connection.receive(Buffer.concat([frame(Opcode.Ping, 'p1'), frame(Opcode.Ping, 'p2')]));
    assert.deepEqual(pongs(), ['p1', 'p2']);
    blocked = true;
    const flood = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => frame(Opcode.Ping, `f${i}`)));
    end.connection.receive(flood);
    assert.deepEqual(pongs(), ['p1', 'p2']); // nothing written while blocked
    assert.equal(end.connection.pongsCoalesced, 9_999);
    blocked = false;
    end.connection.writable();
    assert.deepEqual(pongs(), ['p1', 'p2', 'f9999']);
    end.connection.writable(); // nothing more to send
    assert.equal(pongs().length, 3);
    // Every ping was still reported to the application.
    assert.equal(end.log.filter((entry) => entry.startsWith('ping:')).length, 10_002);
  });

  it('sends the held pong before a close frame, ours or the answer to the peer', () => {
    for (const closeBy of ['us', 'peer'] as const) {
      const end = new End('server');
      end.connection = new Connection({ role: 'server' }, { ...end.handler(), isWriteBlocked: () => true });
      end.connection.receive(Buffer.concat([frame(Opcode.Ping, 'one'), frame(Opcode.Ping, 'two')]));
      if (closeBy === 'us') end.connection.close(1000);
      else end.connection.receive(frame(Opcode.Close, Buffer.from([0x03, 0xe8])));
      end.connection.writable(); // nothing left to send after the close frame
      assert.deepEqual(
        end.outbox.map((chunk) => [chunk[0]! & 0x0f, chunk.subarray(2).toString('latin1')]),
        [
          [Opcode.Pong, 'two'],
          [Opcode.Close, '\x03\xe8'],
        ],
        closeBy,
      );
    }
  });
});
