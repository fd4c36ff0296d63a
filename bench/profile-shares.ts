/**
 * Where a server's CPU went, from the `--cpu-prof` profiles that `BENCH_SERVER_PROF=DIR npm run bench`
 * writes (one per server process): the self time of every profile node, grouped by where its code
 * lives, and the functions with the most self time.
 *
 *   BENCH_SERVER_PROF=/tmp/prof npm run bench -- --scenarios wss-handshakes --rounds 1
 *   node --import tsx bench/profile-shares.ts /tmp/prof
 *
 * Only what follows the first connection counts: module loading (tsx's hooks, the build's modules) comes
 * before it and is not what a server spends per connection; profiles of other threads (tsx's loader
 * thread) and of processes that served no connection are left out.
 *
 * Native work that no JavaScript function called (libuv callbacks, and with them OpenSSL's record
 * decryption and handshake arithmetic in TLSWrap's read path, and the kernel's share of the syscalls
 * made there) is V8's "(program)". Native work called from JavaScript (a write through TLSWrap, which
 * encrypts) counts as the calling function's self time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a node's code lives, by its script URL and name. */
export function category(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'native (no JS caller)';
    return 'native (builtins)';
  }
  if (/node:(_tls|tls|crypto|internal\/(tls|crypto))/.test(url)) return 'node tls/crypto';
  if (/node:(_http|http|https|internal\/http)/.test(url)) return 'node http';
  if (/node:(net|stream|internal\/(streams|stream_base_commons|net))/.test(url)) return 'node net/streams';
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (/\/(dist|src)\//.test(url) && !url.includes('node_modules')) return 'fullduplex';
  if (url.includes('/bench/')) return 'bench server';
  if (url.startsWith('node:')) return 'node other';
  return 'other';
}

export function shares(profile: Profile): { totalMs: number; byCategory: Map<string, number>; top: [string, number][] } | undefined {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // The first sample taken inside net's accept callback (onconnection, node:net) or below it.
  const accepting = (id: number | undefined): boolean => {
    for (; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === 'onconnection' && frame.url === 'node:net') return true;
    }
    return false;
  };
  const first = profile.samples.findIndex((id) => accepting(id));
  if (first === -1) return undefined;
  const self = new Map<number, number>();
  for (let i = first; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, micros] of self) {
    const node = byId.get(id)!;
    const group = category(node);
    if (group === 'idle') continue;
    total += micros;
    byCategory.set(group, (byCategory.get(group) ?? 0) + micros);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\//, '')}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  }
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return { totalMs: total / 1000, byCategory, top };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: bench/profile-shares.ts DIR (the BENCH_SERVER_PROF folder)');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).sort()) {
    const result = shares(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
    if (result === undefined) continue;
    const { totalMs, byCategory, top } = result;
    console.log(`\n${file}: ${totalMs.toFixed(0)} ms busy from the first connection on (idle left out)`);
    for (const [group, micros] of [...byCategory].sort((a, b) => b[1] - a[1])) console.log(`  ${group.padEnd(24)} ${((micros / 1000 / totalMs) * 100).toFixed(1).padStart(5)}%`);
    console.log('  top self time:');
    for (const [name, micros] of top) console.log(`    ${((micros / 1000 / totalMs) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
}
