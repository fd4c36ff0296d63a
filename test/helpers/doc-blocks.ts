/**
 * The code blocks of the documentation (test/docs/code-blocks.test.ts): every fenced ```ts / ```js block
 * of README.md and docs/*.md is written to a file of its own in a temporary folder and typechecked
 * with the repository's `tsc` against a fresh build of the package, imported by its name as a user's
 * program imports it (`import { WebSocketServer } from 'fullduplex'`).
 *
 * Markers, on the last non-blank line before the opening fence:
 *   <!-- fragment -->  not checked (a few lines out of a larger program; keep these rare)
 *   <!-- run -->       also run with Node: it must exit 0, with nothing on stderr
 *
 * A failure names the Markdown file and line (`docs/server.md:42: TS2304: Cannot find name 'x'`).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { scaled } from './time.js';

const run = promisify(execFile);

export type BlockLanguage = 'ts' | 'js';

export interface CodeBlock {
  /** The Markdown file, relative to the repository (`docs/server.md`). */
  readonly file: string;
  /** The line of the opening fence (1-based): the block's first line of code is the next one. */
  readonly line: number;
  readonly language: BlockLanguage;
  readonly code: string;
  /** Marked `<!-- fragment -->`: not checked. */
  readonly fragment: boolean;
  /** Marked `<!-- run -->`: also run. */
  readonly run: boolean;
}

const LANGUAGES: Record<string, BlockLanguage> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js' };
const OPEN = /^(\s*)(`{3,}|~{3,})\s*([A-Za-z]*)\b.*$/;

/** The fenced ts/js blocks of one Markdown text (other languages are skipped; an unclosed fence is an error). */
export function extractBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let previous = '';
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index]!;
    const open = OPEN.exec(text);
    if (open === null) {
      if (text.trim() !== '') previous = text.trim();
      continue;
    }
    const [, indent = '', fence = '```', tag = ''] = open;
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length; index++) {
      const line = lines[index]!;
      if (line.trim().startsWith(fence) && line.trim().replaceAll(fence[0]!, '') === '') break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    if (index >= lines.length) throw new Error(`${file}:${start + 1}: a code fence that is never closed`);
    const language = LANGUAGES[tag.toLowerCase()];
    if (language !== undefined) {
      blocks.push({ file, line: start + 1, language, code: body.join('\n'), fragment: previous === '<!-- fragment -->', run: previous === '<!-- run -->' });
    }
    previous = '';
  }
  return blocks;
}

/** The file name a block is written to (`docs/server.md` line 12 → `docs-server.md-L12.ts`). */
export function blockFileName(block: CodeBlock): string {
  return `${block.file.replaceAll('/', '-')}-L${block.line}.${block.language}`;
}

/** The settings the blocks are checked with: the repository's strictness and Node's types (no DOM: a block imports its `WebSocket`). */
const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    lib: ['es2023'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    types: ['node'],
    strict: true,
    allowJs: true,
    checkJs: true,
    noEmit: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
  },
};

export interface PreparedPackage {
  /** The folder with `node_modules/fullduplex` (a fresh build), `package.json` and `tsconfig.base.json`; each check writes its blocks into a folder of its own. */
  readonly dir: string;
}

/**
 * Build the package afresh into `dir/node_modules/fullduplex` (tsconfig.build.json, as `npm run build`
 * does, without the CommonJS half: the blocks are ES modules), next to a package.json of its own so that
 * `fullduplex` resolves there and not to the repository's own dist/ by self-reference. Other packages
 * (`ws`, `redis`, `@types/node`) resolve from the repository's node_modules, up the tree.
 */
export async function preparePackage(root: string, dir: string): Promise<PreparedPackage> {
  const pkg = join(dir, 'node_modules', 'fullduplex');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--declarationMap', 'false', '--sourceMap', 'false'], {
    cwd: root,
    timeout: scaled(180_000),
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fullduplex-docs-blocks', private: true, type: 'module' }, null, 2));
  writeFileSync(join(dir, 'tsconfig.base.json'), JSON.stringify(TSCONFIG, null, 2));
  return { dir };
}

/** A diagnostic of `tsc`, mapped back to the Markdown file and line. */
export interface BlockError {
  readonly where: string;
  readonly message: string;
}

/**
 * Write the blocks into `prepared.dir/<folder>` (one module each) and typecheck them together; returns the
 * errors, each at its Markdown file and line. Errors that belong to no block (the settings) come with `where: tsc`.
 */
export async function typecheckBlocks(root: string, prepared: PreparedPackage, blocks: readonly CodeBlock[], folder = 'blocks'): Promise<BlockError[]> {
  const dir = join(prepared.dir, folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.base.json', include: ['.'] }, null, 2));
  const byName = new Map<string, CodeBlock>();
  for (const block of blocks) {
    const name = blockFileName(block);
    byName.set(name, block);
    // Every block is a module (its names are its own), even one without an import.
    writeFileSync(join(dir, name), `${block.code}\nexport {};\n`);
  }
  let output = '';
  try {
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir, '--pretty', 'false'], { cwd: dir, timeout: scaled(180_000), maxBuffer: 16 * 1024 * 1024 });
    return [];
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    output = `${failed.stdout ?? ''}${failed.stderr ?? ''}` || failed.message;
  }
  const errors: Array<{ where: string; message: string }> = [];
  let last: { where: string; message: string } | null = null;
  for (const line of output.split('\n')) {
    const match = /^(.*?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (match === null) {
      // A message's continuation lines (e.g. "Type 'x' is not assignable...") belong to the last error.
      if (last !== null && line.startsWith(' ')) last.message += `\n${line}`;
      else if (line.trim() !== '') errors.push((last = { where: 'tsc', message: line.trim() }));
      continue;
    }
    const [, path = '', lineText = '0', column = '0', code = '', message = ''] = match;
    const block = byName.get(relative(dir, resolve(dir, path)).replaceAll('\\', '/'));
    const where = block === undefined ? `${path}:${lineText}:${column}` : `${block.file}:${block.line + Number(lineText)}:${column}`;
    errors.push((last = { where, message: `${code}: ${message}` }));
  }
  return errors;
}

/** Run one block (marked `<!-- run -->`) with Node (TypeScript through tsx): its exit code and output. */
export async function runBlock(prepared: PreparedPackage, block: CodeBlock, folder = 'blocks'): Promise<{ code: number; stdout: string; stderr: string }> {
  mkdirSync(join(prepared.dir, folder), { recursive: true });
  const file = join(prepared.dir, folder, blockFileName(block));
  writeFileSync(file, `${block.code}\nexport {};\n`);
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file], { cwd: prepared.dir, timeout: scaled(60_000), env: { ...process.env, NODE_OPTIONS: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr || failed.message };
  }
}
