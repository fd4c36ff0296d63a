/**
 * The open-file limit (`ulimit -n`, soft) the server and generator processes inherit from the bench:
 * a scenario that holds many connections open needs one descriptor per connection in each of them.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** The soft limit on open files; Infinity when unlimited, undefined when it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    // Linux: "Max open files            20000                20000                files"
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Infinity;
    if (soft !== undefined && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    // Not Linux: ask the shell.
  }
  const shell = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const text = shell.stdout?.trim();
  if (text === 'unlimited') return Infinity;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** Descriptors a process needs besides its connections (stdio, IPC, the listener, Node's own). */
const SPARE = 256;

/**
 * How many connections fit under the limit: `wanted`, or fewer with a one-line notice on stderr
 * saying why and how to raise it.
 */
export function connectionsWithinFdLimit(
  scenario: string,
  wanted: number,
  limit = openFileLimit(),
  notify: (line: string) => void = (line) => process.stderr.write(line),
): number {
  if (limit === undefined || limit >= wanted + SPARE) return wanted;
  const fitting = Math.max(0, limit - SPARE);
  notify(
    `  ${scenario}: the open-file limit (ulimit -n) is ${limit}, and ${wanted.toLocaleString('en-US')} connections need about ` +
      `${(wanted + SPARE).toLocaleString('en-US')} in each of the server and the generator: running with ${fitting.toLocaleString('en-US')} ` +
      `(raise it with \`ulimit -n ${wanted + 2 * SPARE}\` before npm run bench)\n`,
  );
  return fitting;
}
