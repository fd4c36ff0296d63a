/**
 * The inspector page's files. The page lives in `inspector-page/` at the package root: `index.html`
 * and `style.css` as they are, and TypeScript for the browser in `inspector-page/src/`, compiled by
 * `npm run build` (`tsc -p inspector-page/tsconfig.json`) into `dist/inspector-page/` as ES modules,
 * where the build also copies the HTML and CSS.
 *
 * Run from the compiled CLI (`dist/`), the server serves `dist/inspector-page/`. Run from the
 * TypeScript source (through tsx, as the tests do), it serves `inspector-page/` and turns each
 * `.ts` module into JavaScript on request with esbuild (which tsx brings), so the page is never stale.
 *
 * The page imports the package's browser build (`fullduplex/browser`, mapped by an import map in
 * index.html to `/lib/browser/index.js`): `/lib/browser/*.js` and `/lib/protocol/*.js` are the
 * package's own `dist/browser/` and `dist/protocol/` modules, as `npm run build` wrote them (what ships;
 * their relative imports resolve as written), or from the source, `src/browser/` and `src/protocol/`
 * compiled on request.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { contentType, sendStatus, type AnyRequest, type AnyResponse } from '../serve-static.js';

const PACKAGE_ROOT = new URL('../../../', import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const SOURCE_DIR = new URL('inspector-page/', PACKAGE_ROOT);
const BUILT_DIR = new URL('dist/inspector-page/', PACKAGE_ROOT);
const LIB_SOURCE_DIR = new URL('src/', PACKAGE_ROOT);
const LIB_BUILT_DIR = new URL('dist/', PACKAGE_ROOT);
/** The package's browser-safe modules the page loads: `/lib/browser/NAME.js`, `/lib/protocol/NAME.js`. */
const LIB = /^\/lib\/(browser|protocol)\/([a-z0-9-]+)\.js$/;

/** The page's URL paths and where each comes from. */
const FILES: ReadonlyMap<string, string> = new Map([
  ['/', 'index.html'],
  ['/index.html', 'index.html'],
  ['/style.css', 'style.css'],
  ['/favicon.svg', 'favicon.svg'],
]);

/** Whether `path` (no query) is one of the page's. */
export function isPageAsset(path: string): boolean {
  return FILES.has(path) || /^\/js\/[a-z0-9-]+\.js$/.test(path) || LIB.test(path);
}

type Transform = (code: string, options: { loader: 'ts'; format: 'esm'; target: string; sourcefile: string }) => Promise<{ code: string }>;
let transform: Transform | null = null;

async function compile(source: string, name: string): Promise<string> {
  if (transform === null) {
    const specifier = 'esbuild';
    const esbuild = (await import(specifier)) as { transform: Transform };
    transform = esbuild.transform;
  }
  return (await transform(source, { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: name })).code;
}

async function load(path: string): Promise<{ body: Buffer | string; type: string } | null> {
  const script = /^\/js\/([a-z0-9-]+)\.js$/.exec(path);
  if (script !== null) {
    const name = script[1]!;
    if (FROM_SOURCE) {
      const source = await readFile(new URL(`src/${name}.ts`, SOURCE_DIR), 'utf8');
      return { body: await compile(source, `${name}.ts`), type: contentType('app.js') };
    }
    return { body: await readFile(new URL(`${name}.js`, BUILT_DIR)), type: contentType('app.js') };
  }
  const lib = LIB.exec(path);
  if (lib !== null) {
    const file = `${lib[1]!}/${lib[2]!}`;
    if (FROM_SOURCE) {
      const source = await readFile(new URL(`${file}.ts`, LIB_SOURCE_DIR), 'utf8');
      return { body: await compile(source, `${file}.ts`), type: contentType('lib.js') };
    }
    return { body: await readFile(new URL(`${file}.js`, LIB_BUILT_DIR)), type: contentType('lib.js') };
  }
  const file = FILES.get(path);
  if (file === undefined) return null;
  let body: Buffer;
  try {
    body = await readFile(new URL(file, FROM_SOURCE ? SOURCE_DIR : BUILT_DIR));
  } catch (error) {
    if (FROM_SOURCE) throw error;
    body = await readFile(new URL(file, SOURCE_DIR)); // a build that did not copy the static files
  }
  return { body, type: contentType(file) };
}

/** Answer a request for one of the page's files. */
export async function servePage(path: string, request: AnyRequest, response: AnyResponse): Promise<void> {
  let found;
  try {
    found = await load(path);
  } catch (error) {
    const hint = FROM_SOURCE ? '' : ' (run `npm run build`)';
    sendStatus(response, 500, `The inspector page is missing: ${(error as Error).message}${hint}`);
    return;
  }
  if (found === null) {
    sendStatus(response, 404, 'Not Found');
    return;
  }
  const length = typeof found.body === 'string' ? Buffer.byteLength(found.body) : found.body.length;
  response.writeHead(200, { 'Content-Type': found.type, 'Content-Length': length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
  if (request.method === 'HEAD') response.end();
  else response.end(found.body);
}

/** For messages: where the page is served from. */
export const PAGE_DIR = fileURLToPath(FROM_SOURCE ? SOURCE_DIR : BUILT_DIR);
