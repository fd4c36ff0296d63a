/**
 * The modes of `fullduplex connect` that read from the user: -x (send, wait for each reply), a pipe
 * on stdin (each line a message) and the interactive prompt (lines and /commands). Each starts on
 * the socket it is given and returns a function that stops reading stdin once the connection closed.
 */
import { createInterface, clearLine, cursorTo, type Interface } from 'node:readline';
import { CloseCode } from '../protocol/close-codes.js';
import { WebSocket } from '../node/websocket.js';
import type { ConnectSettings } from './connect.js';
import type { Printer } from './connect-print.js';

export interface Session {
  socket: WebSocket;
  printer: Printer;
  settings: ConnectSettings;
  /** Close with 1000 after this many ms (replacing any earlier such timer). */
  closeAfter(ms: number): void;
}

/** Piped stdin: once it ended, close after the server has been quiet this long... */
const QUIET_MS = 500;
/** ...or after this long at most. */
const LINGER_MAX_MS = 5_000;

function closeNow(socket: WebSocket): void {
  if (socket.readyState === WebSocket.OPEN) socket.close(CloseCode.Normal);
}

/**
 * -x: send each message once the reply to the one before has come, then close (after -w if given).
 * With --reconnect, a message whose reply had not come when the connection was lost is sent again,
 * once, on the next connection (the server may or may not have seen it: the reply is what counts);
 * a message already answered is never sent again, and once the last reply was printed a new
 * connection (during -w) sends nothing.
 */
export function runExecute({ socket, settings, closeAfter }: Session): () => void {
  const pending = [...settings.execute];
  /** The message sent on the current connection whose reply has not come yet. */
  let awaiting: string | undefined;
  /** After the last reply, with -w: when the wait ends (a reconnect does not start it again). */
  let closeAt: number | undefined;
  let done = false;
  const send = (message: string): void => {
    awaiting = message;
    socket.send(message);
  };
  const sendNext = (): void => {
    const next = pending.shift();
    if (next !== undefined) {
      send(next);
      return;
    }
    done = true;
    if (settings.wait !== undefined) {
      closeAt = Date.now() + settings.wait;
      closeAfter(settings.wait);
    } else {
      closeNow(socket);
    }
  };
  socket.on('open', () => {
    if (done) {
      // --reconnect during -w: nothing to send; close when the wait that already began ends.
      if (closeAt !== undefined) closeAfter(Math.max(0, closeAt - Date.now()));
      return;
    }
    if (awaiting !== undefined) send(awaiting); // --reconnect: the last connection was lost before the reply
    else sendNext();
  });
  socket.on('message', () => {
    if (awaiting === undefined) return;
    awaiting = undefined;
    sendNext();
  });
  return () => {};
}

/** Stop reading stdin so that the process can exit. */
function releaseStdin(lines: Interface | null): void {
  lines?.close();
  process.stdin.pause();
  (process.stdin as { unref?: () => void }).unref?.();
}

/** stdin a pipe: every line is a text message; at its end, wait for the replies, then close. */
export function runPipe({ socket, settings, closeAfter }: Session): () => void {
  const queue: string[] = [];
  let ended = false;
  let closed = false;
  let lingerStarted = 0;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });

  const linger = (): void => {
    if (settings.wait !== undefined) {
      closeAfter(settings.wait);
      return;
    }
    lingerStarted = Date.now();
    closeAfter(QUIET_MS);
    socket.on('message', () => {
      const left = LINGER_MAX_MS - (Date.now() - lingerStarted);
      closeAfter(Math.max(0, Math.min(QUIET_MS, left)));
    });
  };
  const flush = (): void => {
    while (queue.length > 0 && socket.readyState === WebSocket.OPEN) {
      const line = queue.shift()!;
      if (!socket.send(line)) {
        lines.pause();
        socket.once('drain', () => {
          lines.resume();
          flush();
        });
        return;
      }
    }
    if (ended && queue.length === 0 && socket.readyState === WebSocket.OPEN) linger();
  };

  lines.on('line', (line) => {
    queue.push(line);
    if (queue.length === 1) flush();
  });
  lines.on('close', () => {
    if (closed) return;
    ended = true;
    flush();
  });
  socket.on('open', flush);
  return () => {
    closed = true;
    releaseStdin(lines);
  };
}

const HELP = `Commands:
  /ping [DATA]            send a ping
  /pong [DATA]            send an unsolicited pong
  /close [CODE [REASON]]  start the closing handshake (default 1000)
  /binary HEX             send a binary message (e.g. /binary 00ff)
  /help                   this list
Any other line is sent as a text message ("//" at the start sends one "/").`;

/** The interactive prompt (a terminal, or --interactive on a pipe). */
export function runPrompt({ socket, printer, settings, closeAfter }: Session, onSignal: (signal: NodeJS.Signals) => void): () => void {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let lines: Interface | null = null;
  let active = false;

  const send = (data: string | Buffer, shown: string): void => {
    // --reconnect: a line typed while reconnecting waits in the client's queue for the next connection.
    if (socket.readyState !== WebSocket.OPEN && (socket.reconnection === null || socket.reconnection.endedBy !== null)) {
      printer.problem('not sent: the connection is closing');
      return;
    }
    socket.send(data);
    if (!terminal) printer.sent(shown);
  };

  const command = (line: string): void => {
    const [name = '', ...words] = line.split(' ');
    const rest = line.slice(name.length + 1);
    try {
      switch (name) {
        case '/ping':
        case '/pong':
          if (socket.readyState !== WebSocket.OPEN) {
            printer.problem(`not sent: the connection is closing`);
            return;
          }
          if (name === '/ping') socket.ping(rest);
          else socket.pong(rest);
          if (!terminal) printer.sent(line);
          return;
        case '/close': {
          const [codeText, ...reasonWords] = words.filter((word) => word !== '');
          if (codeText !== undefined && !/^\d+$/.test(codeText)) {
            printer.problem(`/close: the code must be a number (got "${codeText}")`);
            return;
          }
          const reason = reasonWords.join(' ');
          if (codeText === undefined) socket.close(CloseCode.Normal);
          else if (reason === '') socket.close(Number(codeText));
          else socket.close(Number(codeText), reason);
          if (!terminal) printer.sent(line);
          return;
        }
        case '/binary': {
          const hex = rest.replace(/\s+/g, '');
          if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
            printer.problem('/binary: give the bytes in hexadecimal, two digits each (e.g. /binary 00ff10)');
            return;
          }
          send(Buffer.from(hex, 'hex'), `/binary ${hex.toLowerCase()}`);
          return;
        }
        case '/help':
          printer.notice(HELP);
          return;
        default:
          printer.problem(`unknown command "${name}" (/help lists them; start a message with "//" to send a "/")`);
      }
    } catch (error) {
      printer.problem(`${name}: ${(error as Error).message}`);
    }
  };

  const start = (): void => {
    const prompt = `${printer.json || !terminal ? '' : '> '}`;
    lines = createInterface({
      input: process.stdin,
      ...(terminal && { output: process.stdout }),
      terminal,
      prompt,
      historySize: 1000,
      removeHistoryDuplicates: true,
      crlfDelay: Infinity,
    });
    active = true;
    if (terminal) {
      printer.beforeLine = () => {
        if (!active) return;
        clearLine(process.stdout, 0);
        cursorTo(process.stdout, 0);
      };
      printer.afterLine = () => {
        if (active) lines?.prompt(true);
      };
      lines.prompt();
    }
    lines.on('line', (line) => {
      if (line.startsWith('//')) send(line.slice(1), line.slice(1));
      else if (line.startsWith('/')) command(line);
      else if (line !== '') send(line, line);
      if (terminal && active) lines?.prompt();
    });
    lines.on('SIGINT', () => onSignal('SIGINT'));
    lines.on('close', () => {
      // Ctrl-D, or the end of piped stdin.
      if (!active) return;
      active = false;
      if (settings.wait === undefined) closeNow(socket);
    });
  };
  socket.on('open', () => {
    start();
    if (settings.wait !== undefined) closeAfter(settings.wait);
  });
  return () => {
    active = false;
    if (terminal && lines !== null) {
      // The prompt redrawn after the last line printed: take it away.
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
    }
    releaseStdin(lines);
  };
}
