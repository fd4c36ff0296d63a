/**
 * The API reference (`npm run docs`, scripts/api-docs.mjs): every public item of every entry point has a
 * doc comment. The exported items (classes, functions, constants, types) and the members of exported
 * classes, interfaces and enums (so every option of an options interface and every event of an event
 * map) each need a summary of their own; an `@internal` item is left out of the reference and of this
 * check. The comments must also be TSDoc that API Extractor reads without a warning (syntax, `{@link}`s
 * that resolve).
 *
 * The doc models are built once for all entry points, from declarations compiled afresh from src/ into a
 * temporary folder (so the check never reads a stale dist/ and never touches it): about 10 s on a quiet
 * machine.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildModels, ENTRY_POINTS, hasSummary, ROOT, undocumentedItems, type ApiItemJson, type ExtractorMessage } from '../../scripts/api-docs.mjs';
import { scaled } from '../helpers/time.js';

let workDir = '';
let models = new Map<string, ApiItemJson & { readonly name: string }>();
let messages: ExtractorMessage[] = [];

describe('API reference', { timeout: scaled(120_000) }, () => {
  before(async () => {
    // Under the package folder, so that the declarations resolve `redis` and `@types/node` from node_modules.
    mkdirSync(join(ROOT, 'docs-build'), { recursive: true });
    workDir = mkdtempSync(join(ROOT, 'docs-build', 'test-'));
    ({ models, messages } = await buildModels(workDir));
  });

  after(() => {
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  for (const entry of ENTRY_POINTS) {
    it(`every export of ${entry.specifier}, and every member of its classes and interfaces, has a doc comment`, () => {
      const model = models.get(entry.specifier);
      assert.ok(model !== undefined, `no doc model for ${entry.specifier}`);
      const missing = undocumentedItems(model);
      assert.deepEqual(missing, [], `${missing.length} items of ${entry.specifier} have no doc comment:\n  ${missing.join('\n  ')}`);
    });
  }

  it('the doc comments are TSDoc that API Extractor reads without a warning', () => {
    // Types used by the API but not exported by its entry point are a note of `npm run docs`, not an error.
    const problems = messages.filter((message) => message.id !== 'ae-forgotten-export').map((message) => `${message.id} ${message.where} ${message.text}`);
    assert.deepEqual(problems, []);
  });
});

describe('the doc comment check', () => {
  const model = (docComment: string | undefined, member: ApiItemJson) => ({
    kind: 'Package',
    name: 'fullduplex',
    members: [{ kind: 'EntryPoint', members: [{ kind: 'Interface', name: 'ServerOptions', docComment, members: [member] }] }],
  });

  it('names a member without a doc comment, and the exported item without one', () => {
    assert.deepEqual(undocumentedItems(model('/** Options. */', { kind: 'PropertySignature', name: 'port', docComment: '' })), [
      'fullduplex!ServerOptions.port (PropertySignature)',
    ]);
    assert.deepEqual(undocumentedItems(model(undefined, { kind: 'PropertySignature', name: 'port', docComment: '/** The port. */' })), [
      'fullduplex!ServerOptions (Interface)',
    ]);
  });

  it('leaves out @internal items', () => {
    assert.deepEqual(undocumentedItems(model('/** Options. */', { kind: 'PropertySignature', name: 'secret', releaseTag: 'Internal' })), []);
  });

  it('wants a summary: a comment with only block tags, or only the remark API Extractor adds, does not count', () => {
    assert.equal(hasSummary('/** The port. */'), true);
    assert.equal(hasSummary('/**\n * @defaultValue 8080\n */'), false);
    assert.equal(hasSummary('/**\n * @remarks\n *\n * The constructor for this class is marked as internal.\n */\n'), false);
    assert.equal(hasSummary('/** @internal */'), false);
    assert.equal(hasSummary(''), false);
  });
});
