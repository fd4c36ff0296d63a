/**
 * In-process HTTP/2 peers (test/helpers/http2-peer.ts) for the `connect --http2` tests: started per test,
 * closed after it, and the `--ca` arguments that make the CLI trust a peer's self-signed certificate.
 */
import { afterEach } from 'node:test';
import { Http2Peer } from '../helpers/http2-peer.js';

const peers = new Set<Http2Peer>();
afterEach(async () => {
  for (const peer of peers) await peer.close();
  peers.clear();
});

/** A peer closed after the current test. */
export async function startPeer(options: ConstructorParameters<typeof Http2Peer>[0] = {}): Promise<Http2Peer> {
  const peer = await Http2Peer.start(options);
  peers.add(peer);
  return peer;
}

/** `--ca <file>` for a TLS peer, nothing for a cleartext one. */
export function caArgs(peer: Http2Peer): string[] {
  return peer.certificate === null ? [] : ['--ca', peer.certificate.certPath];
}
