/**
 * Client drivers for the conformance server (Autobahn's fuzzing-server protocol): connect to
 * /getCaseCount, run every case with a client that echoes, then /updateReports. One driver for our
 * client, one for the `ws` package's, written the way Autobahn's own client drivers are.
 */
import { WebSocket as WsClient } from 'ws';
import { WebSocket } from '../../src/node/index.js';

/** The smallest interface both clients share for this. */
interface EchoClient {
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  send(data: Buffer | ArrayBuffer | Buffer[], options: { binary: boolean }): unknown;
}

export type ClientFactory = (url: string) => EchoClient;

export const ourClient: ClientFactory = (url) => new WebSocket(url, { maxPayload: 64 * 1024 * 1024 }) as unknown as EchoClient;
/** Our client over HTTP/2 (RFC 8441): h2c for ws:// URLs, TLS h2 (required, no fallback) for wss://. */
export function ourH2Client(options: { ca?: string | Buffer } = {}): ClientFactory {
  return (url) =>
    new WebSocket(url, {
      maxPayload: 64 * 1024 * 1024,
      http2: url.startsWith('wss:') ? 'require' : 'h2c',
      ...(options.ca !== undefined && { ca: options.ca }),
    }) as unknown as EchoClient;
}
export const wsClient: ClientFactory = (url) => new WsClient(url, { maxPayload: 64 * 1024 * 1024 }) as unknown as EchoClient;

function runOne(factory: ClientFactory, url: string, echo: boolean): Promise<string[]> {
  return new Promise((resolve) => {
    const messages: string[] = [];
    const client = factory(url);
    client.on('message', (data, isBinary) => {
      if (echo) client.send(data, { binary: isBinary });
      else messages.push(String(data));
    });
    client.on('error', () => {});
    client.on('close', () => resolve(messages));
  });
}

/** Drive all cases for `agent` against the conformance server at `base` (ws://host:port). */
export async function driveClient(factory: ClientFactory, base: string, agent: string): Promise<void> {
  const [count] = await runOne(factory, `${base}/getCaseCount`, false);
  const total = Number(count);
  if (!Number.isInteger(total) || total < 1) throw new Error(`bad case count ${count}`);
  for (let i = 1; i <= total; i++) await runOne(factory, `${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, true);
  await runOne(factory, `${base}/updateReports?agent=${encodeURIComponent(agent)}`, false);
}
