/**
 * Run the live-server target for a bounded time: many connections in parallel against one server
 * process, each checked on its own; crash reports from the server process are charged to the inputs in
 * flight at the time (each is saved: replaying them one by one finds the culprit), and the process is
 * restarted if it died. At the end, the server must hold no connection any more.
 */
import { serverCase } from './cases.js';
import { runServerCase } from './server-target.js';
import { ServerProcess } from './server-process.js';
import { FailureLog, type CampaignOptions, type CampaignResult } from './campaign.js';
import type { FailureRecord, Finding } from './findings.js';
import { scaled } from '../../helpers/time.js';

export interface ServerCampaignOptions extends CampaignOptions {
  /** Connections in flight at once. Default 20. */
  parallel?: number;
}

const CRASH_POLL_MS = 50;

export function serverRecord(seed: number, index: number, findings: Finding[]): FailureRecord {
  const fuzzCase = serverCase(seed, index);
  return {
    target: 'server',
    seed,
    index,
    findings,
    bytes: fuzzCase.stream,
    chunks: fuzzCase.chunks,
    mutations: fuzzCase.mutations,
    maxPayload: fuzzCase.maxPayload,
    ...(fuzzCase.deflate !== null && { deflate: fuzzCase.deflate }),
  };
}

export async function runServerCampaign(options: ServerCampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const endAt = started + options.durationMs;
  const log = new FailureLog(options.onFailure);
  const report = (record: FailureRecord): void => log.add(record);

  let server = await ServerProcess.start();
  let restarting: Promise<void> | null = null;
  let crashesSeen = 0;
  const inFlight = new Set<number>();
  let next = 0;
  let executions = 0;

  const watchCrashes = (): void => {
    while (crashesSeen < server.crashes.length) {
      const crash = server.crashes[crashesSeen++]!;
      const suspects = [...inFlight];
      for (const index of suspects) {
        report(serverRecord(options.seed, index, [{ kind: 'crash', message: `${crash.kind} while ${suspects.length} inputs were in flight: ${crash.message}` }]));
      }
      if (suspects.length === 0) {
        report({ target: 'server', seed: options.seed, index: -1, findings: [{ kind: 'crash', message: `${crash.kind} with no input in flight: ${crash.message}` }], bytes: Buffer.alloc(0), chunks: [], mutations: [], maxPayload: 0 });
      }
    }
    if (server.exited && restarting === null) {
      restarting = ServerProcess.start().then((fresh) => {
        server = fresh;
        crashesSeen = 0;
        restarting = null;
      });
    }
  };
  const poll = setInterval(watchCrashes, CRASH_POLL_MS);

  const lane = async (): Promise<void> => {
    while (Date.now() < endAt) {
      if (restarting !== null) await restarting;
      const index = next++;
      inFlight.add(index);
      const findings = await runServerCase(server, serverCase(options.seed, index));
      watchCrashes();
      inFlight.delete(index);
      executions++;
      if (findings.length > 0) report(serverRecord(options.seed, index, findings));
    }
  };
  try {
    await Promise.all(Array.from({ length: options.parallel ?? 20 }, lane));
    clearInterval(poll);
    watchCrashes();
    // Every client has gone: the server must have let go of every connection.
    let clients = await server.clients();
    const deadline = Date.now() + scaled(2000);
    while (clients > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      clients = await server.clients();
    }
    if (clients > 0) {
      report({ target: 'server', seed: options.seed, index: -1, findings: [{ kind: 'leak', message: `${clients} connections still open on the server after every client left` }], bytes: Buffer.alloc(0), chunks: [], mutations: [], maxPayload: 0 });
    }
  } finally {
    clearInterval(poll);
    if (restarting !== null) await restarting;
    await server.stop();
  }
  return { target: 'server', executions, durationMs: Date.now() - started, failures: log.failures, known: log.known };
}
