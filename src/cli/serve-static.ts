/**
 * `fullduplex serve --static DIR`: files from DIR over HTTP, next to the WebSocket endpoint. GET and
 * HEAD only; the request path is decoded and resolved inside DIR (`..`, encoded slashes, NUL bytes and
 * symbolic links that lead outside it are refused with 403 or 404), a directory serves its
 * `index.html`, and the content type follows the file's extension.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
};

/**
 * A request and its response, over HTTP/1.1 or HTTP/2 (Node's compatibility API): the headers written
 * here are all allowed in HTTP/2 (no Connection, Keep-Alive or Transfer-Encoding, RFC 9113 §8.2.2).
 */
export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** A short plain-text answer. */
export function sendStatus(response: AnyResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = `${message}\n`;
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

/**
 * The file under `root` that `urlPath` names, or a status to answer with. Pure path logic (no file
 * system access): exported for tests.
 */
export function resolveInside(root: string, urlPath: string): string | 403 | 400 {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return 400;
  }
  if (decoded.includes('\0')) return 400;
  // Every segment must be an ordinary name: `..` (however it was spelled) and backslashes are refused.
  const segments = decoded.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.some((segment) => segment === '..' || segment.includes('\\'))) return 403;
  const base = resolve(root);
  const path = resolve(join(base, ...segments));
  if (path !== base && !path.startsWith(base + sep)) return 403;
  return path;
}

/** Answer `request` from the files under `root` (already resolved to a real path). */
export async function serveStatic(root: string, request: AnyRequest, response: AnyResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendStatus(response, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    return;
  }
  const url = request.url ?? '/';
  const query = url.search(/[?#]/);
  const resolved = resolveInside(root, query === -1 ? url : url.slice(0, query));
  if (resolved === 400) return sendStatus(response, 400, 'Bad Request');
  if (resolved === 403) return sendStatus(response, 403, 'Forbidden');
  let path = resolved;
  try {
    let info = await stat(path);
    if (info.isDirectory()) {
      path = join(path, 'index.html');
      info = await stat(path);
    }
    // A symbolic link inside the folder must not lead out of it.
    const real = await realpath(path);
    if (real !== root && !real.startsWith(root + sep)) return sendStatus(response, 403, 'Forbidden');
    if (!info.isFile()) return sendStatus(response, 404, 'Not Found');
    response.writeHead(200, {
      'Content-Type': contentType(path),
      'Content-Length': info.size,
      'Last-Modified': info.mtime.toUTCString(),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    const stream = createReadStream(path);
    stream.on('error', () => response.destroy());
    stream.pipe(response);
  } catch {
    sendStatus(response, 404, 'Not Found');
  }
}
