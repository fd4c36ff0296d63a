/**
 * The load tests' client fleet (test/load/fixtures/clients.ts): raw WebSocket connections in a process
 * of their own, the commands it answers, and the handle the tests and the soak script drive it with.
 */
import type { ConnectionSummary } from './load-connection.js';
import { startChild, type ChildHandle } from './processes.js';

export interface OpenReport {
  opened: number;
  ms: number;
  problems: string[];
}

export interface ExchangeReport {
  connections: number;
  /** Messages sent for echo, echoes received, pushed messages received: all checked. */
  sent: number;
  echoes: number;
  pushes: number;
  bytesSent: number;
  bytesReceived: number;
  /** Received messages that arrived compressed. */
  compressed: number;
  ms: number;
  /** Connections with any problem (gap, duplicate, wrong checksum, timeout...). */
  failedConnections: number;
  problems: string[];
}

export interface FleetCloseReport {
  connections: number;
  /** Close frame received with the expected code, TCP closed, and nothing wrong on the way. */
  clean: number;
  closeCodes: Record<string, number>;
  ms: number;
  failedConnections: number;
  problems: string[];
}

export interface ChurnReport {
  cycles: number;
  /** Cycles that went wrong (refused, lost or wrong echo, unclean close, timeout). */
  failed: number;
  echoes: number;
  ms: number;
  problems: string[];
}

export type FleetCommands = {
  /** Open `count` connections (ids from `firstId`), `concurrency` handshakes at a time. */
  open: { body: { port: number; count: number; firstId: number; concurrency: number; deflate?: boolean }; reply: OpenReport };
  /** Every open connection sends `echoes` messages for echo (`window` in flight) and receives `pushes` pushed ones. */
  exchange: { body: { echoes: number; window: number; pushes: number; timeoutMs: number }; reply: ExchangeReport };
  /** How far the pushed streams have come. */
  progress: { body: null; reply: { connections: number; minPushes: number; pushes: number } };
  /** Every connection closes with 1000 and waits for the server's close frame and TCP close. */
  close: { body: { timeoutMs: number }; reply: FleetCloseReport };
  /** Wait for the server to close every connection; what each received. */
  awaitServerClose: { body: { timeoutMs: number }; reply: { ms: number; connections: ConnectionSummary[] } };
  /** `cycles` times, `parallel` at once: connect, `echoes` messages echoed, close with 1000. */
  churn: { body: { port: number; cycles: number; parallel: number; firstId: number; echoes: number; timeoutMs: number }; reply: ChurnReport };
};

export interface FleetReady {
  fileLimit: number | null;
}

export type Fleet = ChildHandle<FleetCommands, FleetReady>;

export async function startFleet(fileLimit: number): Promise<Fleet> {
  const fleet = await startChild<FleetCommands, FleetReady>('client fleet', 'test/load/fixtures/clients.ts', null, fileLimit);
  if (fleet.ready.fileLimit !== null && fleet.ready.fileLimit < fileLimit) {
    await fleet.stop();
    throw new Error(`the client process could not raise its open-file limit to ${fileLimit} (got ${fleet.ready.fileLimit}; see ulimit -Hn)`);
  }
  return fleet;
}
