// Publishes price ticks into a topic through Redis. It has no clients of its own: a WebSocketServer
// without a server is just a publisher on the backplane.
//   node publisher.mjs [SYMBOL] [COUNT] [INTERVAL_MS]     (default: ACME, forever, every 100 ms)
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'fullduplex';
import { RedisBackplane } from 'fullduplex/redis';

const [symbol = 'ACME', count = 'Infinity', interval = '100'] = process.argv.slice(2);
const backplane = new RedisBackplane({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const wss = new WebSocketServer({ noServer: true, backplane });
await backplane.ready(); // connected to Redis

let stopping = false;
process.on('SIGTERM', () => (stopping = true));

let price = 100;
for (let seq = 1; seq <= Number(count) && !stopping; seq++) {
  price = Math.max(1, price + (Math.random() - 0.5)); // a random walk
  const tick = JSON.stringify({ symbol, seq, price: price.toFixed(2), time: Date.now() });
  // The callback says whether Redis took it (an outage is reported, never silent).
  await new Promise((resolve, reject) => wss.publish(`prices:${symbol}`, tick, {}, (error) => (error ? reject(error) : resolve())));
  await sleep(Number(interval));
}
console.log(`published ${symbol} ticks`);
wss.close(); // and its backplane: the process then exits by itself
