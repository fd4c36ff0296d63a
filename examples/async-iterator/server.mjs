// A transform server in the async-iterator style: one `for await` loop per connection, which answers
// each text message in upper case (binary messages come back as they are). Each reply is awaited
// before the next message is read, so a client that does not read its replies slows down its own
// sending (the loop stops, the socket stops being read) instead of filling the server's memory.
import { WebSocketServer } from 'fullduplex';

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 8080) });
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));

/** Send, and resolve once the message is written out (reject if the connection fails first). */
const send = (ws, data) => new Promise((resolve, reject) => ws.send(data, (error) => (error ? reject(error) : resolve())));

wss.on('connection', async (ws) => {
  try {
    for await (const { data, isBinary } of ws) {
      await send(ws, isBinary ? data : data.toString().toUpperCase());
    }
    // The loop ends when the connection closes.
  } catch (error) {
    console.error(`connection failed: ${error.message}`);
  }
});

process.once('SIGTERM', () => wss.close()); // closes the open connections (1001 Going Away)
