#!/usr/bin/env node
// Part of `npm run build`: dist/cjs/package.json, which makes Node load the CommonJS build's .js files
// (emitted by `tsc -p tsconfig.cjs.json`) as CommonJS, although the package is "type": "module".
// Usage: node scripts/write-cjs-package.mjs [dir]   (default: dist/cjs next to this repository's root)
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2] !== undefined ? resolve(process.argv[2]) : fileURLToPath(new URL('../dist/cjs/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
