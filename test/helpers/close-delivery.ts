/**
 * Shared by the "nothing received is lost at close" tests (test/interop/close-delivery*.test.ts): one
 * client connection's outcome (messages in order, close code, clean or not), a runner that repeats a
 * scenario many times a few at once, and the check that judges an outcome.
 */
import assert from 'node:assert/strict';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { within } from './node.js';
import { scaled } from './time.js';

/** Messages in each burst. */
export const BURST = 100;
export const BURST_TEXTS = Array.from({ length: BURST }, (_, i) => `m${i}`);

export interface Outcome {
  texts: string[];
  code: number;
  wasClean: boolean;
}

/** One connection of our client: `act` runs on open; resolves with what arrived and how it closed. */
export function clientRun(url: string, options: ClientOptions, act: (client: WebSocket) => void, binaryType?: 'fragments'): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const client = new WebSocket(url, options);
    if (binaryType !== undefined) client.binaryType = binaryType;
    const texts: string[] = [];
    client.on('error', () => {}); // the outcome is judged from `close`
    client.on('open', () => {
      try {
        act(client);
      } catch (error) {
        reject(error as Error);
      }
    });
    client.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data as Buffer[]) : (data as Buffer);
      texts.push(isBinary ? `binary:${bytes.toString()}` : bytes.toString());
    });
    client.on('close', (code) => resolve({ texts, code, wasClean: client.closeResult?.wasClean ?? false }));
  });
}

/** Run `repetition` `count` times, `concurrency` at once; collect the failures' descriptions. */
export async function repeatRuns(count: number, concurrency: number, repetition: (index: number) => Promise<string | null>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const failure = await repetition(index);
      if (failure !== null) failures.push(`#${index}: ${failure}`);
    }
  };
  await within(Promise.all(Array.from({ length: concurrency }, worker)), `${count} repetitions`, scaled(240_000));
  return failures;
}

/** Null when every expected message arrived, in order, before a clean close (with `code`, if given). */
export function describeOutcome(outcome: Outcome, expected: string[], code?: number): string | null {
  if (outcome.texts.length !== expected.length || outcome.texts.some((text, i) => text !== expected[i])) {
    return `received ${outcome.texts.length}/${expected.length} messages (${outcome.texts.slice(0, 3).join(',')}...), close ${outcome.code}`;
  }
  if (!outcome.wasClean) return `all messages arrived but the close was not clean (code ${outcome.code})`;
  if (code !== undefined && outcome.code !== code) return `all messages arrived, clean close, but code ${outcome.code} (expected ${code})`;
  return null;
}

/** No failure at all (the first few shown). */
export function assertNoFailures(failures: string[], count: number): void {
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${count} lost`);
}
