/**
 * The code in the documentation compiles: every fenced ```ts / ```js block of README.md and docs/*.md is
 * typechecked against a fresh build of the package, imported by its name (test/helpers/doc-blocks.ts).
 * A block marked `<!-- fragment -->` is skipped (there are few, and the test says how many); a block
 * marked `<!-- run -->` is also run, and must exit 0 with nothing on stderr.
 *
 * The checker is checked too: a Markdown text with a broken block must fail, naming its file and line.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractBlocks, preparePackage, runBlock, typecheckBlocks, type CodeBlock, type PreparedPackage } from '../helpers/doc-blocks.js';
import { scaled } from '../helpers/time.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TIMEOUT = { timeout: scaled(300_000) };
/** Fragments allowed at most: a few lines out of a larger program, where a whole program would hide the point. */
const MAX_FRAGMENTS = 12;

function documentationBlocks(): CodeBlock[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];
  return files.flatMap((file) => extractBlocks(readFileSync(join(root, file), 'utf8'), file));
}

describe('the code blocks of README.md and docs/*.md', () => {
  let work = '';
  let prepared: PreparedPackage;
  before(async () => {
    mkdirSync(join(root, 'test-output'), { recursive: true });
    work = mkdtempSync(join(root, 'test-output', 'docs-blocks-'));
    prepared = await preparePackage(root, work);
  }, TIMEOUT);
  after(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('are found, and only a few are fragments', () => {
    const blocks = documentationBlocks();
    assert.ok(blocks.length >= 30, `only ${blocks.length} ts/js blocks found`);
    const fragments = blocks.filter((block) => block.fragment);
    assert.ok(fragments.length <= MAX_FRAGMENTS, `${fragments.length} blocks are marked <!-- fragment -->: ${fragments.map((block) => `${block.file}:${block.line}`).join(', ')}`);
  });

  it('typecheck against the built package', TIMEOUT, async () => {
    const blocks = documentationBlocks().filter((block) => !block.fragment);
    const errors = await typecheckBlocks(root, prepared, blocks);
    assert.deepEqual(errors.map((error) => `${error.where}: ${error.message}`), [], `${errors.length} error(s) in the documentation's code`);
  });

  it('marked <!-- run --> run to a clean exit', TIMEOUT, async () => {
    const blocks = documentationBlocks().filter((block) => block.run);
    assert.ok(blocks.length >= 2, 'the getting-started blocks are marked <!-- run -->');
    for (const block of blocks) {
      const result = await runBlock(prepared, block);
      assert.deepEqual({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, `${block.file}:${block.line}: exit ${result.code}\n${result.stdout}`);
    }
  });

  it('a broken block fails, at its Markdown file and line', TIMEOUT, async () => {
    const markdown = [
      '# A page',
      '',
      '```ts',
      "import { WebSocketServer } from 'fullduplex';",
      'const wss = new WebSocketServer({ port: 8080 });',
      'wss.on("connection", (socket) => socket.sendd("hi"));', // line 6: no such method
      '```',
      '',
      '<!-- fragment -->',
      '```ts',
      'socket.send(undeclared);',
      '```',
      '',
      '```js',
      "import { WebSocket } from 'fullduplex';",
      "new WebSocket('ws://x', { maxPayload: 'big' });", // line 16: not a number
      '```',
    ].join('\n');
    const blocks = extractBlocks(markdown, 'docs/broken.md');
    assert.deepEqual(blocks.map((block) => [block.line, block.language, block.fragment]), [[3, 'ts', false], [10, 'ts', true], [14, 'js', false]]);
    const errors = await typecheckBlocks(root, prepared, blocks.filter((block) => !block.fragment), 'broken');
    assert.deepEqual(errors.map((error) => error.where.split(':').slice(0, 2).join(':')).sort(), ['docs/broken.md:16', 'docs/broken.md:6']);
    assert.match(errors.find((error) => error.where.startsWith('docs/broken.md:6:'))!.message, /TS2551: Property 'sendd' does not exist/);
  });
});
