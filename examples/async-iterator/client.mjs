// A client in the same style, on the WHATWG WebSocketStream of fullduplex/web: a writable stream to
// send, a readable stream to `for await` over. Each write waits until the socket has taken the message,
// so the sending loop slows down by itself when the server (or the network) is behind.
//   node client.mjs [url] [count]
import { WebSocketStream } from 'fullduplex/web';

const url = process.argv[2] ?? 'ws://127.0.0.1:8080';
const count = Number(process.argv[3] ?? 10);

const stream = new WebSocketStream(url);
const { readable, writable } = await stream.opened;

// Send in the background...
const writer = writable.getWriter();
const sending = (async () => {
  for (let i = 1; i <= count; i++) await writer.write(`message ${i}`);
})();

// ...and read the replies as they come.
let received = 0;
for await (const reply of readable) {
  received += 1;
  if (reply !== `MESSAGE ${received}`) throw new Error(`reply ${received} is "${reply}"`);
  if (received <= 3 || received === count) console.log(reply);
  if (received === count) stream.close({ closeCode: 1000, reason: 'done' }); // the loop ends once closed
}
await sending;
const { closeCode } = await stream.closed;
console.log(`${received} replies, in order; closed with ${closeCode}`);
