/**
 * The layers of the tree (DEVELOPERS.md): src/protocol is sans-I/O and imports nothing from Node but
 * Buffer and crypto; imports point downward only (protocol <- browser <- node <- web <- cli).
 * src/browser runs in browsers: no Node API at all, in it or in the protocol modules it imports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LAYERS = ['protocol', 'browser', 'node', 'web', 'conformance', 'cli'];

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

  /** A Node API in a source file's text: a `node:` import, or the Buffer and process globals. */
  function nodeApiIn(file: string): string | null {
    const node = imports(file).find((specifier) => specifier.startsWith('node:') || !specifier.startsWith('.'));
    if (node !== undefined) return `imports ${node}`;
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    const global = /\b(Buffer|process|require|__dirname|__filename|setImmediate)\b/.exec(code);
    return global === null ? null : `uses ${global[1]}`;
  }

  it('src/browser uses no Node API, and imports only itself and protocol modules that use none either', () => {
    const files = sources(join(root, 'src/browser'));
    assert.ok(files.length > 0);
    const seen = new Set<string>();
    const pending = [...files];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const layer = relative(join(root, 'src'), file).split('/')[0];
      assert.ok(layer === 'browser' || layer === 'protocol', `the browser build reaches ${relative(root, file)}`);
      const found = nodeApiIn(file);
      assert.equal(found, null, `${relative(root, file)} (in the browser build) ${found}`);
      for (const specifier of imports(file)) {
        // Browsers resolve relative imports as written: the compiled module must name the .js file.
        assert.match(specifier, /^\.\.?\/.*\.js$/, `${relative(root, file)} imports ${specifier}: browsers need a relative .js path`);
        pending.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      }
    }
  });

  it('the Node API check catches what it must', () => {
    const probe = join(root, 'test', 'layering.test.ts');
    assert.notEqual(nodeApiIn(probe), null, 'this file imports node: modules');
  });

  it('has a test file for every protocol module', () => {
    const missing = sources(join(root, 'src/protocol'))
      .map((file) => relative(join(root, 'src'), file).replace(/\.ts$/, ''))
      .filter((module) => !['protocol/index', 'protocol/constants', 'protocol/errors', 'protocol/extension', 'protocol/close-codes'].includes(module))
      .filter((module) => !existsSync(join(root, 'test', `${module}.test.ts`)));
    assert.deepEqual(missing, []);
  });
});
