/**
 * The browser-style listener API of the `ws`-shaped `WebSocket` (src/node/event-target.ts), run side by
 * side on `ws` (the oracle, ws/lib/event-target.js) and fullduplex: every scenario's log must be equal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LIBRARIES, onBoth, pairOf, unconnected, type AnySocket, type Library } from '../helpers/libraries.js';
import { once, within } from '../helpers/node.js';

/** What kind of value `data` is, for comparing across libraries. */
function kind(data: unknown): string {
  if (typeof data === 'string') return `string:${data}`;
  if (Buffer.isBuffer(data)) return `Buffer:${data.toString('hex')}`;
  if (data instanceof ArrayBuffer) return `ArrayBuffer:${Buffer.from(data).toString('hex')}`;
  if (Array.isArray(data)) return `Array:${Buffer.concat(data as Buffer[]).toString('hex')}`;
  if (data instanceof Blob) return `Blob:${data.size}`;
  return `${typeof data}:${String(data)}`;
}

/**
 * Scenarios on an unconnected socket: events are emitted on it directly, as each library's own
 * machinery would (`message(data, isBinary)`, `close(code, reason)`, `error(error)`, `open()`).
 */
const scenarios: Record<string, (socket: AnySocket, log: string[]) => void> = {
  "a text message's event.data is a string for listeners and onmessage; binary data is left as is": (socket, log) => {
    socket.addEventListener('message', (event: { data: unknown }) => log.push(`listener ${kind(event.data)}`));
    socket.onmessage = (event: { data: unknown }) => log.push(`handler ${kind(event.data)}`);
    socket.emit('message', Buffer.from('hé'), false);
    socket.emit('message', Buffer.from([1, 2]), true);
  },
  'a listener added with { once: true } and again without is registered once, and runs once': (socket, log) => {
    const f = (event: { data: unknown }): void => {
      log.push(`f ${kind(event.data)}`);
    };
    socket.addEventListener('message', f, { once: true });
    socket.addEventListener('message', f);
    log.push(`count ${socket.listenerCount('message')}`);
    socket.emit('message', Buffer.from('a'), false);
    socket.emit('message', Buffer.from('b'), false);
    log.push(`count ${socket.listenerCount('message')}`);
  },
  'a listener added without once and again with { once: true } stays a permanent listener': (socket, log) => {
    const f = (event: { data: unknown }): void => {
      log.push(`f ${kind(event.data)}`);
    };
    socket.addEventListener('message', f);
    socket.addEventListener('message', f, { once: true });
    socket.emit('message', Buffer.from('a'), false);
    socket.emit('message', Buffer.from('b'), false);
    log.push(`count ${socket.listenerCount('message')}`);
  },
  'once is read as a truthy value': (socket, log) => {
    socket.addEventListener('message', () => log.push('f'), { once: 1 });
    socket.emit('message', Buffer.from('a'), false);
    socket.emit('message', Buffer.from('b'), false);
  },
  'addEventListener(close, f) then onclose = f: f is the handler and a listener, called twice': (socket, log) => {
    const f = (event: { code: number }): void => {
      log.push(`f ${event.code}`);
    };
    socket.addEventListener('close', f);
    socket.onclose = f;
    log.push(`handler is f: ${socket.onclose === f}; count ${socket.listenerCount('close')}`);
    socket.emit('close', 1000, Buffer.from('bye'));
  },
  'onclose = f then addEventListener(close, f): both, in that order': (socket, log) => {
    const f = (event: { code: number; reason: string }): void => {
      log.push(`f ${event.code} ${event.reason}`);
    };
    socket.onclose = f;
    socket.addEventListener('close', f);
    log.push(`count ${socket.listenerCount('close')}`);
    socket.emit('close', 4000, Buffer.from('x'));
  },
  'removeEventListener removes the listener, not the on-handler that is the same function': (socket, log) => {
    const f = (): void => {
      log.push('f');
    };
    socket.addEventListener('open', f);
    socket.onopen = f;
    socket.removeEventListener('open', f);
    log.push(`handler is f: ${socket.onopen === f}; count ${socket.listenerCount('open')}`);
    socket.removeEventListener('open', f);
    log.push(`handler is f: ${socket.onopen === f}; count ${socket.listenerCount('open')}`);
    socket.emit('open');
  },
  'removeEventListener of a function that is only the on-handler does nothing': (socket, log) => {
    const f = (): void => {
      log.push('f');
    };
    socket.onerror = f;
    socket.removeEventListener('error', f);
    log.push(`handler is f: ${socket.onerror === f}`);
    socket.emit('error', new Error('boom'));
  },
  'removeEventListener removes a once listener before it runs': (socket, log) => {
    const f = (): void => {
      log.push('f');
    };
    socket.addEventListener('message', f, { once: true });
    socket.removeEventListener('message', f);
    socket.emit('message', Buffer.from('a'), false);
    log.push(`count ${socket.listenerCount('message')}`);
  },
  'setting an on-handler replaces the previous one, at the end of the list; a non-function clears it': (socket, log) => {
    socket.onmessage = () => log.push('first');
    socket.addEventListener('message', () => log.push('listener'));
    socket.onmessage = () => log.push('second');
    socket.emit('message', Buffer.from('a'), false);
    socket.onmessage = 5;
    log.push(`handler ${String(socket.onmessage)}; count ${socket.listenerCount('message')}`);
    socket.onmessage = () => log.push('third');
    socket.onmessage = null;
    log.push(`handler ${String(socket.onmessage)}; count ${socket.listenerCount('message')}`);
  },
  'only open, message, close and error can be listened to': (socket, log) => {
    socket.addEventListener('ping', () => log.push('ping'));
    socket.addEventListener('drain', () => log.push('drain'));
    log.push(`ping ${socket.listenerCount('ping')}, drain ${socket.listenerCount('drain')}`);
  },
  'listener objects get handleEvent called with the object as this; functions with the socket as this': (socket, log) => {
    const object = {
      handleEvent(this: unknown, event: { type: string }) {
        log.push(`handleEvent ${event.type} this=object:${this === object}`);
      },
    };
    socket.addEventListener('open', object);
    socket.addEventListener('open', function (this: unknown, event: { type: string; target: unknown }) {
      log.push(`function ${event.type} this=socket:${this === socket} target=socket:${event.target === socket}`);
    });
    socket.addEventListener('open', object); // the same object: not added twice
    socket.emit('open');
    socket.removeEventListener('open', object);
    socket.emit('open');
  },
  'close, error and message events carry what ws puts on them': (socket, log) => {
    socket.addEventListener('close', (event: { type: string; code: number; reason: string; wasClean: boolean }) =>
      log.push(`close ${event.type} ${event.code} ${JSON.stringify(event.reason)} ${event.wasClean}`),
    );
    const error = new RangeError('bad');
    socket.addEventListener('error', (event: { type: string; error: unknown; message: string }) =>
      log.push(`error ${event.type} same=${event.error === error} ${event.message}`),
    );
    socket.emit('error', error);
    socket.emit('close', 1006, Buffer.alloc(0));
  },
};

describe('WebSocket listener API (event-target.ts), differential against ws', () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(name, async () => {
      const results = await onBoth((library) => {
        const log: string[] = [];
        scenario(unconnected(library), log);
        return log;
      });
      assert.ok(results.ws.length > 0, 'the scenario logs something');
      assert.deepEqual(results.fullduplex, results.ws);
    });
  }
});

describe('WebSocket listener API over a real connection, differential against ws', () => {
  it('text arrives as a string in event.data; binary as binaryType says (nodebuffer, arraybuffer, fragments, blob)', async () => {
    const results = await onBoth(async (library: Library) => {
      const pair = await pairOf(library);
      const log: string[] = [];
      try {
        for (const binaryType of ['nodebuffer', 'arraybuffer', 'fragments', 'blob']) {
          pair.client.binaryType = binaryType;
          const seen: string[] = [];
          let resolveDone: () => void;
          const done = new Promise<void>((resolve) => {
            resolveDone = resolve;
          });
          const record = (entry: string): void => {
            seen.push(entry);
            if (seen.length === 4) resolveDone();
          };
          pair.client.onmessage = (event: { data: unknown }) => record(`onmessage ${kind(event.data)}`);
          const listener = (event: { data: unknown }): void => record(`listener ${kind(event.data)}`);
          pair.client.addEventListener('message', listener);
          pair.server.send('hé');
          pair.server.send(Buffer.from([1, 2, 3]));
          await within(done, `4 events (${binaryType}); got ${seen.length}`);
          pair.client.removeEventListener('message', listener);
          log.push(`${binaryType}: ${seen.sort().join(', ')}`);
        }
        const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
          pair.client.onclose = resolve;
        });
        const serverClosed = once(pair.server, 'close');
        pair.server.close(4001, 'done');
        const event = await within(closed, 'the close event');
        log.push(`close ${event.code} ${event.reason} ${event.wasClean}`);
        await serverClosed;
      } finally {
        await pair.close();
      }
      return log;
    });
    assert.equal(results.ws.length, 5);
    assert.deepEqual(results.fullduplex, results.ws);
  });

  for (const library of LIBRARIES) {
    it(`${library}: the expected values (so that a change in ws shows up here)`, async () => {
      const log: string[] = [];
      scenarios["a text message's event.data is a string for listeners and onmessage; binary data is left as is"]!(unconnected(library), log);
      assert.deepEqual(log, ['listener string:hé', 'handler string:hé', 'listener Buffer:0102', 'handler Buffer:0102']);
    });
  }
});
