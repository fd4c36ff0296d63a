// A WebSocket endpoint on the port of a plain node:http server: the server answers GET /hello,
// fullduplex takes the upgrade requests for /echo (and answers 404 to an upgrade anywhere else).
import { createServer } from 'node:http';
import { WebSocketServer } from 'fullduplex';

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/hello') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('hello from node:http\n');
  } else {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
});

const wss = new WebSocketServer({ server, path: '/echo' });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

process.once('SIGTERM', () => {
  wss.close(); // closes the open WebSockets (1001 Going Away)
  server.close();
});
