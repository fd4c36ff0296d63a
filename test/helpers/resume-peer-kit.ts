/**
 * What the resuming clients' tests against the fake resume server (test/helpers/resume-peer.ts) share,
 * the Node client's (test/node/resuming-client.test.ts) and the browser class's on Node
 * (test/browser/resuming-client.test.ts): a peer stopped after the test, and readings of the logs.
 */
import { ResumePeer, type PeerConnection } from './resume-peer.js';

/** Start a peer, and push its `stop()` onto the test's cleanup steps. */
export async function startPeer(cleanup: Array<() => unknown>): Promise<ResumePeer> {
  const peer = await ResumePeer.start();
  cleanup.push(() => peer.stop());
  return peer;
}

/** The `message ...` entries of a client's event log. */
export const messages = (log: readonly string[]): string[] => log.filter((entry) => entry.startsWith('message '));

/** The `sub` requests the peer received on `connection`, parsed. */
export const subs = (connection: PeerConnection): unknown[] => connection.log.filter((text) => text.includes('"t":"sub"')).map((text) => JSON.parse(text) as unknown);
