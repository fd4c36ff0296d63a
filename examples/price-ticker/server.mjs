// One WebSocket server of several: each has its own RedisBackplane on the same Redis, so a tick
// published anywhere reaches the topic's subscribers on every server (docs/scaling.md).
import { WebSocketServer } from 'fullduplex';
import { RedisBackplane } from 'fullduplex/redis'; // needs the `redis` package (npm install redis)

const backplane = new RedisBackplane({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 8080), backplane });

// ws://host:port/ACME subscribes to the ticks of ACME (the topic "prices:ACME").
wss.on('connection', async (ws, request) => {
  const symbol = new URL(request.url, 'http://localhost').pathname.slice(1) || 'ACME';
  ws.subscribe(`prices:${symbol}`);
  // Once Redis confirmed the subscription, every tick published from now on will arrive: say so.
  await backplane.ready();
  ws.send(JSON.stringify({ subscribed: symbol }));
});

wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
// close() sends 1001 to the clients and leaves Redis before calling back.
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
