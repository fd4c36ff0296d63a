/**
 * The CommonJS build: `require('fullduplex')` on every supported Node version, including those that
 * cannot require() an ES module (Node 20 before 20.19), and in `ws`'s CommonJS style
 * (`const WebSocket = require('ws'); new WebSocket.Server(...)`).
 *
 * The build is made afresh into a temporary package (tsconfig.cjs.json and scripts/write-cjs-package.mjs,
 * the steps of `npm run build`), so this test neither depends on nor touches the repository's dist/.
 * Programs then run in real `node` child processes and load the package by its name through its
 * `exports` map, as an application does; `ws` (for the differential checks) and `redis` are linked next to it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { scaled } from '../helpers/time.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TIMEOUT = { timeout: scaled(180_000) };
/**
 * Node binaries to run the round trip on besides this one: FULLDUPLEX_EXTRA_NODES, colon-separated
 * (.ci/run sets it to the oldest supported release, Node 20.0.0, which has no require(esm) at all).
 */
const EXTRA_NODES = (process.env['FULLDUPLEX_EXTRA_NODES'] ?? '').split(':').filter((path) => path !== '');
/** Node versions with require(esm) (20.19+, 22.12+) have a flag to turn it off; older ones do not have it at all. */
const NO_REQUIRE_ESM = '--no-experimental-require-module';
const hasRequireEsmFlag = process.allowedNodeEnvironmentFlags.has('--experimental-require-module');

interface PackageJson {
  scripts: Record<string, string>;
  exports: Record<string, string | { import?: { types: string; default: string }; require?: { types: string; default: string } }>;
}

let app = '';
let pkg = '';

/** Run a CommonJS program in `app` (where node_modules/fullduplex and node_modules/ws are) and parse its JSON output. */
async function runProgram(name: string, source: string, args: string[] = [], flags: string[] = [], node = process.execPath): Promise<unknown> {
  const file = join(app, name);
  writeFileSync(file, source);
  const { stdout } = await run(node, [...flags, file, ...args], { cwd: app, timeout: scaled(60_000) });
  return JSON.parse(stdout);
}

// An echo round trip between a server and a client, both from require(), with the names destructured.
const ROUND_TRIP = String.raw`
'use strict';
const { WebSocket, WebSocketServer, createWebSocketStream } = require('fullduplex');
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
wss.on('listening', () => {
  const client = new WebSocket('ws://127.0.0.1:' + wss.address().port);
  const received = [];
  client.on('message', (data, isBinary) => {
    received.push({ text: data.toString(), isBinary });
    if (received.length < 2) return;
    // Then the same through a Duplex stream over a second connection.
    const duplex = createWebSocketStream(new WebSocket('ws://127.0.0.1:' + wss.address().port), { encoding: 'utf8' });
    let streamed = '';
    duplex.on('data', (chunk) => (streamed += chunk));
    duplex.on('close', () => {
      client.close(1000);
      client.on('close', (code) => {
        wss.close(() => {
          process.stdout.write(JSON.stringify({ received, streamed, closeCode: code, loadedFrom: require.resolve('fullduplex').replace(/^.*node_modules[\\/]/, '') }));
        });
      });
    });
    duplex.end('through a stream');
  });
  client.on('open', () => {
    client.send('hello');
    client.send(Buffer.from('bytes'));
  });
});
`;

const ROUND_TRIP_RESULT = {
  received: [
    { text: 'hello', isBinary: false },
    { text: 'bytes', isBinary: true },
  ],
  streamed: 'through a stream',
  closeCode: 1000,
  loadedFrom: 'fullduplex/dist/cjs/require.cjs',
};

// `ws`'s CommonJS style: the module is the WebSocket class, the rest hangs off it. Run with 'ws' and with
// 'fullduplex' (argv[2]); both must print the same.
const WS_STYLE = String.raw`
'use strict';
const WebSocket = require(process.argv[2]);
const shape = {
  exportIsClass: typeof WebSocket === 'function' && WebSocket.name === 'WebSocket',
  selfReference: WebSocket.WebSocket === WebSocket,
  serverAlias: typeof WebSocket.Server === 'function' && WebSocket.Server === WebSocket.WebSocketServer,
  createWebSocketStream: typeof WebSocket.createWebSocketStream,
  constants: [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED],
};
const wss = new WebSocket.Server({ port: 0, host: '127.0.0.1' });
wss.on('connection', (socket) => {
  shape.serverSideIsInstance = socket instanceof WebSocket;
  socket.on('message', (data) => socket.send('echo: ' + data));
});
wss.on('listening', () => {
  const client = new WebSocket('ws://127.0.0.1:' + wss.address().port);
  client.on('open', () => client.send('hi'));
  client.on('message', (data) => {
    shape.echo = data.toString();
    shape.clientIsInstance = client instanceof WebSocket;
    client.on('close', (code) => {
      shape.closeCode = code;
      for (const socket of wss.clients) socket.terminate();
      wss.close(() => process.stdout.write(JSON.stringify(shape)));
    });
    client.close(1000);
  });
});
`;

const SUBPATHS = String.raw`
'use strict';
const protocol = require('fullduplex/protocol');
const web = require('fullduplex/web');
const redis = require('fullduplex/redis');
const main = require('fullduplex');
process.stdout.write(JSON.stringify({
  protocol: [typeof protocol.Receiver, typeof protocol.computeAcceptKey, protocol.computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ==')],
  web: [typeof web.WebSocket, typeof web.CloseEvent],
  redis: typeof redis.RedisBackplane,
  main: [typeof main.CloseCode, main.CloseCode.Normal, typeof main.ProtocolError, typeof main.HandshakeRejection],
}));
`;

describe('CommonJS: require("fullduplex")', () => {
  before(async () => {
    app = mkdtempSync(join(tmpdir(), 'fullduplex-cjs-'));
    pkg = join(app, 'node_modules', 'fullduplex');
    mkdirSync(pkg, { recursive: true });
    copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.cjs.json', '--outDir', join(pkg, 'dist', 'cjs')], { cwd: root, timeout: scaled(150_000) });
    await run(process.execPath, [join(root, 'scripts', 'write-cjs-package.mjs'), join(pkg, 'dist', 'cjs')], { cwd: root, timeout: scaled(30_000) });
    // `ws` for the differential checks, `redis` for fullduplex/redis (its optional peer dependency).
    for (const name of ['ws', 'redis']) symlinkSync(join(root, 'node_modules', name), join(app, 'node_modules', name), 'dir');
  });
  after(() => {
    if (app !== '') rmSync(app, { recursive: true, force: true });
  });

  it('npm run build makes the CommonJS build, and every "require" target of the exports map exists in it', TIMEOUT, () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
    assert.match(manifest.scripts.build!, /tsc -p tsconfig\.cjs\.json && node scripts\/write-cjs-package\.mjs/);
    for (const subpath of ['.', './protocol', './web', './redis']) {
      const entry = manifest.exports[subpath];
      assert.ok(typeof entry === 'object' && entry.require !== undefined && entry.import !== undefined, `${subpath} has import and require conditions`);
      for (const target of [entry.require.types, entry.require.default]) {
        assert.ok(target.startsWith('./dist/cjs/'), `${subpath}: ${target}`);
        assert.ok(existsSync(join(pkg, target)), `${subpath}: ${target} is built`);
      }
    }
    assert.deepEqual(JSON.parse(readFileSync(join(pkg, 'dist', 'cjs', 'package.json'), 'utf8')), { type: 'commonjs' });
  });

  it('an echo round trip between a required WebSocketServer and WebSocket (and createWebSocketStream)', TIMEOUT, async () => {
    assert.deepEqual(await runProgram('round-trip.cjs', ROUND_TRIP), ROUND_TRIP_RESULT);
    for (const node of EXTRA_NODES) {
      const { stdout: version } = await run(node, ['--version']);
      assert.deepEqual(await runProgram('round-trip.cjs', ROUND_TRIP, [], [], node), ROUND_TRIP_RESULT, `on ${version.trim()} (${node})`);
    }
  });

  it(
    `the same with ${NO_REQUIRE_ESM}: the CommonJS build does not rely on require(esm)`,
    { ...TIMEOUT, skip: hasRequireEsmFlag ? false : 'this Node has no require(esm) to turn off (the test above proves it already)' },
    async () => {
      assert.deepEqual(await runProgram('round-trip.cjs', ROUND_TRIP, [], [NO_REQUIRE_ESM]), ROUND_TRIP_RESULT);
    },
  );

  it("ws's style: const WebSocket = require(...) is the class, with Server, WebSocketServer, createWebSocketStream on it (as ws)", TIMEOUT, async () => {
    const flags = hasRequireEsmFlag ? [NO_REQUIRE_ESM] : [];
    const ours = await runProgram('ws-style.cjs', WS_STYLE, ['fullduplex'], flags);
    const theirs = await runProgram('ws-style.cjs', WS_STYLE, ['ws'], flags);
    assert.deepEqual(ours, theirs);
    assert.deepEqual(theirs, {
      exportIsClass: true,
      selfReference: true,
      serverAlias: true,
      createWebSocketStream: 'function',
      constants: [0, 1, 2, 3],
      serverSideIsInstance: true,
      echo: 'echo: hi',
      clientIsInstance: true,
      closeCode: 1000,
    });
  });

  it('the subpaths fullduplex/protocol, fullduplex/web and fullduplex/redis, and the other named exports, are required too', TIMEOUT, async () => {
    const flags = hasRequireEsmFlag ? [NO_REQUIRE_ESM] : [];
    assert.deepEqual(await runProgram('subpaths.cjs', SUBPATHS, [], flags), {
      protocol: ['function', 'function', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
      web: ['function', 'function'],
      redis: 'function',
      main: ['object', 1000, 'function', 'function'],
    });
  });
});
