// A WebSocket endpoint on the port of a Fastify app: Fastify answers GET /hello, fullduplex takes
// the upgrade requests for /echo on Fastify's own http.Server (app.server).
import Fastify from 'fastify';
import { WebSocketServer } from 'fullduplex';

const app = Fastify();
app.get('/hello', async (request, reply) => {
  reply.type('text/plain');
  return 'hello from fastify\n';
});

const wss = new WebSocketServer({ server: app.server, path: '/echo' });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const address = await app.listen({ port: Number(process.env.PORT ?? 8080), host: '127.0.0.1' });
console.log(`listening on ${address}`);

process.once('SIGTERM', async () => {
  wss.close(); // closes the open WebSockets (1001 Going Away)
  await app.close();
});
