/**
 * The layers of the tree (DEVELOPERS.md): src/protocol is sans-I/O and imports nothing from Node but
 * Buffer and crypto; imports point downward only (protocol <- node <- web <- cli).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LAYERS = ['protocol', 'node', 'web', 'conformance', 'cli'];

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

describe('layering', () => {
  it('src/protocol imports only Buffer and crypto from Node, and nothing above it', () => {
    for (const file of sources(join(root, 'src/protocol'))) {
      for (const specifier of imports(file)) {
        const ok = specifier === 'node:buffer' || specifier === 'node:crypto' || (specifier.startsWith('./') && !specifier.includes('..'));
        assert.ok(ok, `${relative(root, file)} imports ${specifier}`);
      }
    }
  });

  it('imports point downward only', () => {
    for (const layer of LAYERS) {
      const allowed = new Set(LAYERS.slice(0, LAYERS.indexOf(layer) + 1));
      for (const file of sources(join(root, 'src', layer))) {
        for (const specifier of imports(file)) {
          if (!specifier.startsWith('.')) continue;
          const target = relative(join(root, 'src'), resolve(dirname(file), specifier)).split('/')[0]!;
          if (LAYERS.includes(target)) assert.ok(allowed.has(target), `${relative(root, file)} (${layer}) imports ${specifier} (${target})`);
        }
      }
    }
  });

  it('has a test file for every protocol module', () => {
    const missing = sources(join(root, 'src/protocol'))
      .map((file) => relative(join(root, 'src'), file).replace(/\.ts$/, ''))
      .filter((module) => !['protocol/index', 'protocol/constants', 'protocol/errors', 'protocol/extension', 'protocol/close-codes'].includes(module))
      .filter((module) => !existsSync(join(root, 'test', `${module}.test.ts`)));
    assert.deepEqual(missing, []);
  });
});
