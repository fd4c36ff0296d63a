#!/usr/bin/env node
// The `fullduplex` command. Runs the compiled CLI (dist/cli/main.js, built by `npm run build`, which
// `npm install` runs through "prepare"). In a source checkout that has no build, it runs the
// TypeScript source through tsx (a development dependency) instead.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('fullduplex: dist/cli/main.js is missing: run `npm run build` first.\n');
    process.exit(1);
  }
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
