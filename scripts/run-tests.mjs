#!/usr/bin/env node
// Runs every test file under test/ with Node's built-in runner, TypeScript through tsx.
// Usage: npm test [-- <path or folder> ...]  (default: all of test/)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const runnerFlags = args.filter((arg) => arg.startsWith('--'));
const targets = args.filter((arg) => !arg.startsWith('--'));

function collect(path, out) {
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (/\.test\.ts$/.test(path)) {
    out.push(relative(root, path));
  }
  return out;
}

const files = [];
for (const target of targets.length > 0 ? targets : ['test']) collect(join(root, target), files);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--expose-gc', '--test', '--test-reporter=spec', ...runnerFlags, ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
