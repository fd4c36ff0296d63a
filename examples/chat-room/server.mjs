// A chat room: one http server serves the page (index.html), the browser build of fullduplex that the
// page imports, and the WebSocket endpoint /chat.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'fullduplex';

// The package's dist/ folder: dist/browser/index.js is 'fullduplex/browser', and it imports ../protocol/*.js.
const dist = dirname(dirname(fileURLToPath(import.meta.resolve('fullduplex/browser'))));
const page = await readFile(new URL('index.html', import.meta.url));

const server = createServer(async (request, response) => {
  const path = new URL(request.url, 'http://localhost').pathname;
  if (path === '/') {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
    return;
  }
  // /fullduplex/browser/index.js and the modules it imports, as plain ES modules (no bundler).
  const file = join(dist, path.slice('/fullduplex/'.length));
  if (path.startsWith('/fullduplex/') && extname(file) === '.js' && !relative(dist, file).startsWith('..')) {
    try {
      const code = await readFile(file);
      response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(code);
      return;
    } catch {
      // not there: 404
    }
  }
  response.writeHead(404).end();
});

const wss = new WebSocketServer({ server, path: '/chat' });
wss.on('connection', (ws, request) => {
  const name = new URL(request.url, 'http://localhost').searchParams.get('name') || 'someone';
  ws.subscribe('chat');
  ws.on('message', (text) => {
    wss.publish('chat', JSON.stringify({ from: name, text: String(text) })); // to everyone, the sender too
  });
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
// 1001 Going Away to every page (they reconnect), then exit.
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
