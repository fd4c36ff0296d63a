// A chat written for `ws`, in one CommonJS file with two roles:
//   node chat.cjs                        the server: a message from any client goes to every client
//   node chat.cjs ws://127.0.0.1:8080    a client: sends the lines you type, prints what comes back
// Both keep the connection checked with ping/pong, as ws's README shows ("How to detect and close
// broken connections?"). Moving it to fullduplex changed one line: the require() below.
'use strict';

const WebSocket = require('fullduplex');
const readline = require('node:readline');

const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS || 30000);

if (process.argv[2] === undefined) serve();
else connect(process.argv[2]);

function serve() {
  const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT || 8080) });

  wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));

  wss.on('connection', function connection(ws) {
    console.log(`a client joined (${wss.clients.size} connected)`);
    ws.isAlive = true;
    ws.on('error', console.error);
    ws.on('pong', function heartbeat() {
      this.isAlive = true;
    });
    ws.on('message', function message(data, isBinary) {
      wss.clients.forEach(function each(client) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      });
    });
    ws.on('close', (code) => console.log(`a client left with ${code} (${wss.clients.size} connected)`));
  });

  // Every HEARTBEAT_MS: a client that did not answer the last ping is gone; ping the others.
  const interval = setInterval(function ping() {
    wss.clients.forEach(function each(ws) {
      if (ws.isAlive === false) {
        console.log('terminating a client that did not answer a ping');
        return ws.terminate();
      }
      ws.isAlive = false;
      ws.ping();
    });
  }, HEARTBEAT_MS);

  process.once('SIGTERM', () => {
    clearInterval(interval);
    wss.clients.forEach((ws) => ws.close(1001, 'server shutting down'));
    wss.close();
  });
}

function connect(url) {
  const ws = new WebSocket(url);
  let lines = null;

  // No ping from the server for a whole interval (plus as much again for latency): the link is dead.
  function heartbeat() {
    clearTimeout(this.pingTimeout);
    this.pingTimeout = setTimeout(() => this.terminate(), HEARTBEAT_MS * 2);
  }

  ws.on('error', console.error);
  ws.on('open', heartbeat);
  ws.on('ping', heartbeat);
  ws.on('open', () => {
    console.log('connected');
    lines = readline.createInterface({ input: process.stdin });
    lines.on('line', (line) => ws.send(line));
    lines.on('close', () => ws.close(1000));
  });
  ws.on('message', (data) => console.log(`< ${data}`));
  ws.on('close', function clear(code) {
    clearTimeout(this.pingTimeout);
    console.log(`disconnected with ${code}`);
    if (lines !== null) lines.close();
  });
}
