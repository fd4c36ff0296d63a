/**
 * Masking keys of a client (RFC 6455 §5.3): `generateMask` fills each frame's key, as in `ws`. Run on
 * `ws` and on fullduplex against the same raw server, which reads the keys off the wire.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { WebSocket as WsWebSocket } from 'ws';
import { WebSocket } from '../../src/node/websocket.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { scriptedServer } from '../helpers/net.js';
import { within } from '../helpers/node.js';

/** The masking keys of the complete client frames in `bytes`. */
function maskKeys(bytes: Buffer): string[] {
  const keys: string[] = [];
  let offset = 0;
  while (offset + 2 <= bytes.length) {
    let length = bytes[offset + 1]! & 0x7f;
    let position = offset + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(position);
      position += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(position));
      position += 8;
    }
    if ((bytes[offset + 1]! & 0x80) === 0 || position + 4 + length > bytes.length) break;
    keys.push(bytes.subarray(position, position + 4).toString('hex'));
    offset = position + 4 + length;
  }
  return keys;
}

/** A server that completes the handshake, collects the client's frames, and answers a close. */
async function keyRecorder(): Promise<{ port: number; received: () => Promise<string[]>; close: () => void }> {
  let resolveKeys!: (keys: string[]) => void;
  const keys = new Promise<string[]>((resolve) => (resolveKeys = resolve));
  const { server, port } = await scriptedServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(buffered.subarray(0, end).toString('latin1'))![1]!;
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`);
        buffered = buffered.subarray(end + 4);
        upgraded = true;
      }
      const found = maskKeys(buffered);
      if (found.length === 3) {
        resolveKeys(found);
        socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
      }
    });
  });
  return { port, received: () => within(keys, 'three client frames'), close: () => server.close() };
}

describe('generateMask (as in ws)', () => {
  for (const library of ['ws', 'fullduplex'] as const) {
    it(`${library}: fills every frame's masking key, data and control frames alike`, async () => {
      const recorder = await keyRecorder();
      try {
        let counter = 0;
        const generateMask = (mask: Buffer): void => {
          counter++;
          mask.fill(counter);
        };
        const url = `ws://127.0.0.1:${recorder.port}/`;
        const options = { generateMask, perMessageDeflate: false };
        const client = library === 'ws' ? new WsWebSocket(url, options) : new WebSocket(url, options);
        client.on('error', () => {});
        client.on('open', () => {
          client.send('one');
          client.ping('two');
          client.close(1000);
        });
        assert.deepEqual(await recorder.received(), ['01010101', '02020202', '03030303']);
      } finally {
        recorder.close();
      }
    });
  }
});
