/**
 * What `require('fullduplex')` returns (the CommonJS build only; `import` gets src/index.ts as is).
 *
 * `ws`'s CommonJS export is its `WebSocket` class, carrying the rest as static properties
 * (`WebSocket.Server`, `WebSocket.WebSocketServer`, `WebSocket.createWebSocketStream`...), so that both
 * `const WebSocket = require('ws')` and `const { WebSocketServer } = require('ws')` work. The same here:
 * the class, with every named export of the package (and `Server`, `ws`'s older name of the server) on it.
 * These statics are set on the CommonJS copy of the class only; the ES module's class has none.
 */
import api = require('./index.js');

const WebSocket = Object.assign(api.WebSocket, api, { Server: api.WebSocketServer });

export = WebSocket;
