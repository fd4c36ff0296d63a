#!/usr/bin/env node
// The API reference (`npm run docs`): the public entry points' declarations, read by API Extractor into
// one doc model per entry point, rendered as Markdown by API Documenter, with an index page.
//
//   node scripts/api-docs.mjs [--out <folder>]   (default docs-build/api/; docs-build/ is git-ignored)
//
// The declarations are compiled afresh from src/ (tsc, tsconfig.build.json, declarations only) into
// docs-build/types/, so the reference never describes a stale dist/. Items tagged `@internal` are left
// out of the reference. `undocumentedItems()` (used by test/docs/api-reference.test.ts) names every
// public item, and every member of a public class or interface, that has no doc comment.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The package's public entry points ("exports" in package.json), by import specifier. */
export const ENTRY_POINTS = [
  { specifier: 'fullduplex', declarations: 'index.d.ts', summary: 'The `ws`-shaped server and client for Node.js' },
  { specifier: 'fullduplex/web', declarations: 'web/index.d.ts', summary: 'The WHATWG `WebSocket` and `WebSocketStream` on Node.js' },
  { specifier: 'fullduplex/protocol', declarations: 'protocol/index.d.ts', summary: 'The sans-I/O protocol core (RFC 6455, RFC 8441, RFC 7692)' },
  { specifier: 'fullduplex/redis', declarations: 'redis.d.ts', summary: 'The Redis backplane and history store' },
  { specifier: 'fullduplex/browser', declarations: 'browser/index.d.ts', summary: 'The reconnecting and resuming clients for browsers' },
];

/** The file-name-safe name of an entry point: `fullduplex/web` → `fullduplex-web`. */
export function entryName(specifier) {
  return specifier.replace('/', '-');
}

/** Compile the declarations of src/ (as `npm run build` does) into `outDir`. */
export function emitDeclarations(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const result = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--sourceMap', 'false', '--outDir', outDir], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
}

// Messages that are not about our comments: the progress lines, and release tags (we do not use
// @public/@beta/@alpha: everything exported is public).
const QUIET = new Set(['console-preamble', 'console-writing-doc-model-file', 'ae-missing-release-tag', 'console-compiler-version-notice']);

/**
 * Run API Extractor on each entry point's declarations (under `typesDir`), writing
 * `<modelDir>/<entry>.api.json`. One TypeScript program serves all entry points. Returns the messages
 * that matter (TSDoc syntax, unresolved links, types used by the API but not exported...).
 */
export async function extractModels(typesDir, modelDir) {
  const { Extractor, ExtractorConfig, CompilerState } = await import('@microsoft/api-extractor');
  rmSync(modelDir, { recursive: true, force: true });
  mkdirSync(modelDir, { recursive: true });
  const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const entryFiles = ENTRY_POINTS.map((entry) => join(typesDir, entry.declarations));
  const configs = ENTRY_POINTS.map((entry, index) =>
    ExtractorConfig.prepare({
      configObject: {
        projectFolder: ROOT,
        mainEntryPointFilePath: entryFiles[index],
        compiler: {
          overrideTsconfig: {
            compilerOptions: {
              target: 'es2022',
              lib: ['es2023'],
              module: 'nodenext',
              moduleResolution: 'nodenext',
              types: ['node'],
              strict: true,
              skipLibCheck: true,
            },
            files: entryFiles,
          },
        },
        apiReport: { enabled: false },
        docModel: { enabled: true, apiJsonFilePath: join(modelDir, `${entryName(entry.specifier)}.api.json`) },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        newlineKind: 'lf',
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          extractorMessageReporting: { default: { logLevel: 'warning' } },
          tsdocMessageReporting: { default: { logLevel: 'warning' } },
        },
      },
      configObjectFullPath: join(ROOT, 'api-extractor.json'),
      packageJsonFullPath: join(ROOT, 'package.json'),
      // Each entry point is a "package" of its own in the model, named `fullduplex-web` etc. (a package
      // name cannot hold a "/"), so that each gets its own pages (`fullduplex-web.websocket.md` is not
      // `fullduplex.websocket.md`); the pages show the specifier (renderMarkdown).
      packageJson: { ...packageJson, name: entryName(entry.specifier) },
    }),
  );
  const compilerState = CompilerState.create(configs[0], { additionalEntryPoints: entryFiles });
  const messages = [];
  for (const [index, config] of configs.entries()) {
    Extractor.invoke(config, {
      localBuild: true,
      compilerState,
      messageCallback(message) {
        message.handled = true;
        if (QUIET.has(message.messageId) || message.logLevel === 'none' || message.logLevel === 'verbose') return;
        const where = message.sourceFilePath ? `${relative(ROOT, message.sourceFilePath)}:${message.sourceFileLine}` : '';
        messages.push({ entry: ENTRY_POINTS[index].specifier, id: message.messageId, where, text: message.text });
      },
    });
  }
  return messages;
}

/** Remove the `@internal` items from a doc model (its JSON), so that the reference leaves them out. */
export function withoutInternal(item) {
  if (Array.isArray(item.members)) {
    item.members = item.members.filter((member) => member.releaseTag !== 'Internal').map(withoutInternal);
  }
  return item;
}

/**
 * Give the exported items their exported names in a doc model (its JSON). API Extractor names an item
 * whose name is also a global (`WebSocket`, `MessageEvent`: @types/node declares them) `WebSocket_2`,
 * and the default export by its local name (`WebSocketWithStatics`); the reference shows `WebSocket` and
 * `default`. `declarations` is the entry point's .d.ts text (for its `export default <name>;`).
 */
export function withExportedNames(model, declarations) {
  const entry = model.members?.[0];
  if (entry === undefined) return model;
  const renames = new Map();
  for (const member of entry.members ?? []) {
    const suffixed = /^(.+)_\d+$/.exec(member.name ?? '');
    if (suffixed !== null) renames.set(member.name, suffixed[1]);
  }
  const defaultExport = /^export default (\w+);$/m.exec(declarations)?.[1];
  if (defaultExport !== undefined) renames.set(defaultExport, 'default');
  if (renames.size === 0) return model;
  const escape = (text) => text.replace(/[$]/g, '\\$&');
  let text = JSON.stringify(model);
  for (const [from, to] of renames) {
    // Canonical references: `pkg!Name_2:class`, `pkg!Name_2#member:member`.
    text = text.replace(new RegExp(`(${escape(model.name)}!)${escape(from)}(?=[#:.(~])`, 'g'), `$1${to}`);
  }
  const renamed = JSON.parse(text);
  for (const member of renamed.members[0].members ?? []) {
    if (renames.has(member.name)) member.name = renames.get(member.name);
  }
  return renamed;
}

const CONTAINER_KINDS = new Set(['Class', 'Interface', 'Enum', 'Namespace']);

/**
 * Whether a doc comment (the model's `docComment`) has a summary: text before its first block tag. (API
 * Extractor adds a `@remarks` of its own to a class whose constructor is `@internal`: that is not ours.)
 */
export function hasSummary(docComment) {
  if (typeof docComment !== 'string') return false;
  const text = docComment
    .replace(/^\s*\/\*\*|\*\/\s*$/g, '')
    .replace(/^\s*\* ?/gm, '')
    .split(/(?:^|\s)@(?:remarks|param|returns|defaultValue|example|throws|see|deprecated|typeParam|privateRemarks)\b/)[0]
    .replace(/@(internal|public|override|readonly|sealed|virtual)\b/g, '')
    .trim();
  return text.length > 0;
}

/**
 * The public items of a doc model (its parsed .api.json) without a doc comment: the exported items, and
 * the members of exported classes, interfaces and enums (options and events are interface members).
 * Each is named `specifier!Item` or `specifier!Item.member` (`fullduplex/web!WebSocket.onopen`), with its kind.
 */
export function undocumentedItems(model) {
  const missing = [];
  const entry = ENTRY_POINTS.find((candidate) => entryName(candidate.specifier) === model.name)?.specifier ?? model.name;
  const visit = (item, path) => {
    for (const member of item.members ?? []) {
      if (member.releaseTag === 'Internal') continue;
      if (member.kind === 'EntryPoint') {
        visit(member, `${entry}!`);
        continue;
      }
      const name = member.name ?? member.kind;
      const label = path.endsWith('!') ? `${path}${name}` : `${path}.${name}`;
      // Getter/setter pairs carry one comment, on the getter: the model holds them as one property.
      if (!hasSummary(member.docComment)) missing.push(`${label} (${member.kind})`);
      if (CONTAINER_KINDS.has(member.kind)) visit(member, label);
    }
  };
  visit(model, '');
  return missing;
}

/** Each entry point's public items, counted: exported items, and members of classes/interfaces/enums. */
export function countItems(model) {
  let exported = 0;
  let members = 0;
  const visit = (item, depth) => {
    for (const member of item.members ?? []) {
      if (member.releaseTag === 'Internal') continue;
      if (member.kind === 'EntryPoint') {
        visit(member, 0);
        continue;
      }
      if (depth === 0) exported += 1;
      else members += 1;
      if (CONTAINER_KINDS.has(member.kind)) visit(member, depth + 1);
    }
  };
  visit(model, 0);
  return { exported, members };
}

/** Build the doc models under `workDir` (types/ and model/), for the docs and for the test. */
export async function buildModels(workDir) {
  const typesDir = join(workDir, 'types');
  const modelDir = join(workDir, 'model');
  emitDeclarations(typesDir);
  const messages = await extractModels(typesDir, modelDir);
  const models = new Map();
  for (const entry of ENTRY_POINTS) {
    const file = join(modelDir, `${entryName(entry.specifier)}.api.json`);
    const declarations = readFileSync(join(typesDir, entry.declarations), 'utf8');
    const model = withExportedNames(withoutInternal(JSON.parse(readFileSync(file, 'utf8'))), declarations);
    writeFileSync(file, JSON.stringify(model, null, 2));
    models.set(entry.specifier, model);
  }
  return { modelDir, models, messages };
}

function renderMarkdown(modelDir, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const documenter = join(ROOT, 'node_modules', '.bin', 'api-documenter');
  const result = spawnSync(documenter, ['markdown', '--input-folder', modelDir, '--output-folder', outDir], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`api-documenter failed:\n${result.stdout}${result.stderr}`);
  // Each entry point is a "package" named `fullduplex-web` etc. in the model: show its specifier.
  for (const file of readdirSync(outDir)) {
    if (!file.endsWith('.md')) continue;
    const path = join(outDir, file);
    let text = readFileSync(path, 'utf8');
    for (const entry of ENTRY_POINTS) {
      const name = entryName(entry.specifier);
      if (name === entry.specifier) continue;
      text = text.replaceAll(`[${name}](./${name}.md)`, `[${entry.specifier}](./${name}.md)`).replaceAll(`## ${name} package`, `## ${entry.specifier}`);
    }
    text = text.replace('## fullduplex package', '## fullduplex');
    writeFileSync(path, text);
  }
  const noise = /^(api-documenter \d|The API Documenter tool|Reading |Deleting old output|Writing |$)/;
  return `${result.stdout}${result.stderr}`.split('\n').filter((line) => !noise.test(line.replace(/\x1b\[[0-9;]*m/g, '').trim()));
}

function writeIndex(outDir, models) {
  const rows = ENTRY_POINTS.map((entry) => {
    const { exported, members } = countItems(models.get(entry.specifier));
    return `| [\`${entry.specifier}\`](./${entryName(entry.specifier)}.md) | ${entry.summary} | ${exported} | ${members} |`;
  });
  const text = [
    '# fullduplex API reference',
    '',
    'Generated from the doc comments in `src/` by `npm run docs` (API Extractor and API Documenter).',
    'Each entry point is an import specifier of the package:',
    '',
    '| Entry point | What it is | Exports | Members |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    'The CommonJS build (`require()` of `fullduplex`, `fullduplex/web`, `fullduplex/protocol`, `fullduplex/redis`)',
    'has the same API as the ES modules; `fullduplex/browser` is ES modules only.',
    '',
  ].join('\n');
  // API Documenter writes its own index.md (a list of packages): ours replaces it.
  writeFileSync(join(outDir, 'index.md'), text);
  writeFileSync(join(outDir, 'README.md'), text);
}

async function main() {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const outDir = outIndex >= 0 ? join(process.cwd(), args[outIndex + 1]) : join(ROOT, 'docs-build', 'api');
  const workDir = join(ROOT, 'docs-build');
  const started = Date.now();
  const { modelDir, models, messages } = await buildModels(workDir);
  // Types that the API uses but its entry point does not export (ae-forgotten-export): their names
  // show in signatures without a page. Listed once, as a note: exporting them is an API decision.
  const unexported = new Map();
  for (const message of messages) {
    if (message.id !== 'ae-forgotten-export') continue;
    const name = /The symbol "([^"]+)"/.exec(message.text)?.[1]?.replace(/_\d+$/, '') ?? message.text;
    const names = unexported.get(message.entry) ?? new Set();
    unexported.set(message.entry, names.add(name));
  }
  for (const [entry, names] of unexported) console.log(`note: ${entry} uses types it does not export: ${[...names].sort().join(', ')}`);
  const problems = messages.filter((message) => message.id !== 'ae-forgotten-export');
  for (const message of problems) console.warn(`warning ${message.id} ${message.where} ${message.text}`);
  const documenterOutput = renderMarkdown(modelDir, outDir);
  for (const line of documenterOutput) console.warn(line);
  writeIndex(outDir, models);
  let undocumented = 0;
  for (const entry of ENTRY_POINTS) {
    const model = models.get(entry.specifier);
    const missing = undocumentedItems(model);
    undocumented += missing.length;
    for (const item of missing) console.warn(`warning: no doc comment: ${item}`);
    const { exported, members } = countItems(model);
    console.log(`${entry.specifier}: ${exported} exports, ${members} members`);
  }
  const pages = readdirSync(outDir).filter((file) => file.endsWith('.md')).length;
  console.log(`${relative(process.cwd(), join(outDir, 'index.md'))}: ${pages} pages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (undocumented > 0 || problems.length > 0 || documenterOutput.length > 0) process.exitCode = 1;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url && existsSync(dirname(process.argv[1]))) {
  await main();
}
