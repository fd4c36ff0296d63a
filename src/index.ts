/**
 * fullduplex: a WebSocket (RFC 6455) library for Node.js.
 * The protocol core is available now; the Node server and client follow.
 */
export * from './protocol/index.js';
