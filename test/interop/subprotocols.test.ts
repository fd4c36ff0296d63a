/**
 * Subprotocol negotiation between fullduplex and `ws`, both arrangements: the offered list reaches
 * `handleProtocols` in the client's order, the server's choice is what both sides report, the first
 * offer is the default, and "none" works both when nothing is offered and when the server declines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { once, portOf, terminate } from '../helpers/node.js';
import { DIRECTIONS, listenFor, withPair } from './peers.js';
import { scaled } from '../helpers/time.js';

const TIMEOUT = { timeout: scaled(30_000) };

for (const direction of DIRECTIONS) {
  describe(`interop subprotocols: ${direction}`, () => {
    it('handleProtocols gets the offered list in order; its choice is the protocol on both sides', TIMEOUT, async () => {
      const offered: string[][] = [];
      const handleProtocols = (protocols: Set<string>, request: IncomingMessage): string | false => {
        offered.push([...protocols]);
        assert.ok(request.headers['sec-websocket-protocol'] !== undefined);
        return protocols.has('superchat') ? 'superchat' : false;
      };
      await withPair(direction, { protocols: ['chat', 'superchat', 'v2.chat.example.com'], handleProtocols }, async (pair) => {
        assert.deepEqual(offered, [['chat', 'superchat', 'v2.chat.example.com']]);
        assert.equal(pair.ours.protocol, 'superchat');
        assert.equal(pair.theirs.protocol, 'superchat');
        // And the connection works.
        const echoed = once<[Buffer]>(pair.theirs, 'message');
        pair.ours.send('over superchat');
        assert.equal((await echoed)[0].toString(), 'over superchat');
      });
    });

    it('without handleProtocols the server takes the first offer (as ws does)', TIMEOUT, () =>
      withPair(direction, { protocols: ['first', 'second'] }, async (pair) => {
        assert.equal(pair.ours.protocol, 'first');
        assert.equal(pair.theirs.protocol, 'first');
      }),
    );

    it('a single protocol given as a string', TIMEOUT, () =>
      withPair(direction, { protocols: 'only' }, async (pair) => {
        assert.equal(pair.ours.protocol, 'only');
        assert.equal(pair.theirs.protocol, 'only');
      }),
    );

    it('nothing offered: handleProtocols is not called, no protocol on either side', TIMEOUT, async () => {
      let called = false;
      const handleProtocols = (): string | false => {
        called = true;
        return 'surprise';
      };
      await withPair(direction, { handleProtocols }, async (pair) => {
        assert.equal(called, false);
        assert.equal(pair.ours.protocol, '');
        assert.equal(pair.theirs.protocol, '');
        assert.equal(pair.request.headers['sec-websocket-protocol'], undefined);
      });
    });

    it('no extension is negotiated (ws offers permessage-deflate; we do not accept it yet)', TIMEOUT, () =>
      withPair(direction, {}, async (pair) => {
        assert.equal(pair.ours.extensions, '');
        assert.deepEqual(pair.theirs.extensions, '');
      }),
    );
  });
}

describe('interop subprotocols: the server declines every offer (handleProtocols returns false)', () => {
  it('fullduplex client of a ws server: opens with no protocol (RFC 6455 allows it)', TIMEOUT, async () => {
    const listening = await listenFor('ws server <-> fullduplex client', { handleProtocols: () => false });
    const client = new WebSocket(listening.url, ['chat', 'superchat']);
    try {
      const connection = listening.nextConnection();
      const [[serverSide]] = await Promise.all([connection, once(client, 'open')]);
      assert.equal(client.protocol, '');
      assert.equal((serverSide as WsWebSocket).protocol, '');
    } finally {
      await terminate(client);
      await listening.stop();
    }
  });

  it('ws client of a fullduplex server: our response has no Sec-WebSocket-Protocol, and ws fails the handshake', TIMEOUT, async () => {
    const listening = await listenFor('fullduplex server <-> ws client', { handleProtocols: () => false });
    const server = listening.ourServer!;
    const responseLines: string[][] = [];
    server.on('headers', (lines) => responseLines.push([...lines]));
    const connection = listening.nextConnection();
    const client = new WsWebSocket(listening.url, ['chat', 'superchat']);
    try {
      const [error] = await once<[Error]>(client, 'error');
      assert.match(error.message, /Server sent no subprotocol/);
      assert.equal(responseLines.length, 1);
      assert.ok(!responseLines[0]!.some((line) => /^sec-websocket-protocol:/i.test(line)), responseLines[0]!.join(' | '));
      // Our side had accepted the connection; it ends when ws drops the socket.
      const ours = (await connection)[0] as WebSocket;
      if (ours.readyState !== ours.CLOSED) await once(ours, 'close');
      assert.equal(ours.protocol, '');
      assert.equal(ours.closeResult?.code, 1006);
    } finally {
      if (client.readyState !== client.CLOSED) await once(client, 'close');
      await listening.stop();
    }
  });
});

describe('interop extensions: `extensions` names the negotiated extensions, as ws shows them', () => {
  for (const serverLibrary of ['ws', 'fullduplex'] as const) {
    for (const clientLibrary of ['ws', 'fullduplex'] as const) {
      it(`${clientLibrary} client of a ${serverLibrary} server: both sides say 'permessage-deflate' (parameters are in extensionsHeader)`, TIMEOUT, async () => {
        const perMessageDeflate = { serverMaxWindowBits: 10 };
        const server =
          serverLibrary === 'ws'
            ? new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate })
            : new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, heartbeat: false });
        await once(server, 'listening');
        try {
          const url = `ws://127.0.0.1:${portOf(server)}/`;
          const connection = once<[WebSocket | WsWebSocket]>(server, 'connection');
          const client = clientLibrary === 'ws' ? new WsWebSocket(url) : new WebSocket(url);
          const [[serverSide]] = await Promise.all([connection, once(client, 'open')]);
          assert.deepEqual([serverSide.extensions, client.extensions], ['permessage-deflate', 'permessage-deflate']);
          for (const side of [serverSide, client]) {
            if (side instanceof WebSocket) assert.match(side.extensionsHeader, /^permessage-deflate; server_max_window_bits=10/);
          }
          client.terminate();
        } finally {
          for (const socket of server.clients) socket.terminate();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      });
    }
  }
});
