// A WebSocket endpoint on the port of an Express app: Express answers GET /hello, fullduplex takes
// the upgrade requests for /echo on the http.Server that app.listen() returns.
import express from 'express';
import { WebSocketServer } from 'fullduplex';

const app = express();
app.get('/hello', (request, response) => {
  response.type('text/plain').send('hello from express\n');
});

const server = app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

const wss = new WebSocketServer({ server, path: '/echo' });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

process.once('SIGTERM', () => {
  wss.close(); // closes the open WebSockets (1001 Going Away)
  server.close();
});
