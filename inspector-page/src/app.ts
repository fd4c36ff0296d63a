/**
 * The inspector page: a chat connection of its own (connect, send text or hex, disconnect), the room's
 * messages, and the server's view of this connection's wire, fed over a second WebSocket
 * (`/inspect?tap=TOKEN`): the opening handshake, then one row per frame in both directions.
 *
 * Both sockets are the package's `ReconnectingWebSocket` (fullduplex/browser, served from the build):
 * when the server restarts, the page shows "reconnecting" (attempt, delay) and comes back by itself.
 * Pairing needs nothing re-sent: the token is in both URLs, so each new connection pairs again (the
 * hub keeps a chat connection's events until its feed is back).
 */

import { ReconnectingWebSocket, type ReconnectingEvent } from 'fullduplex/browser';
import type { FeedEvent, FrameRecord, HeaderBlock, HttpVersion, StatsSnapshot } from './feed.js';

type RoomEvent =
  | { type: 'welcome'; name: string; count: number }
  | { type: 'join' | 'leave'; name: string; time: string; count: number }
  | { type: 'chat'; from: string; text: string; time: string };

/** RFC 6455 §7.4.1 and the IANA registry: the names of close codes. */
const CLOSE_NAMES: Readonly<Record<number, string>> = {
  1000: 'Normal Closure',
  1001: 'Going Away',
  1002: 'Protocol Error',
  1003: 'Unsupported Data',
  1005: 'No Status Received',
  1006: 'Abnormal Closure',
  1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation',
  1009: 'Message Too Big',
  1010: 'Mandatory Extension',
  1011: 'Internal Error',
  1012: 'Service Restart',
  1013: 'Try Again Later',
  1014: 'Bad Gateway',
  1015: 'TLS Handshake',
};

function closeName(code: number): string {
  return CLOSE_NAMES[code] ?? (code >= 4000 && code <= 4999 ? 'Private use' : code >= 3000 && code <= 3999 ? 'Registered' : 'Unknown');
}

const MAX_ROWS = 3000;
const SPARK_SECONDS = 30;

function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing`);
  return element as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className !== '') element.className = className;
  if (text !== '') element.textContent = text;
  return element;
}

const ui = {
  status: $('status'),
  statusText: $('status-text'),
  endpoint: $('endpoint'),
  feedStatus: $('feed-status'),
  name: $<HTMLInputElement>('name'),
  connect: $<HTMLButtonElement>('connect'),
  ping: $<HTMLButtonElement>('ping'),
  protocol: $('fact-protocol'),
  extensions: $('fact-extensions'),
  message: $<HTMLTextAreaElement>('message'),
  messageHint: $('message-hint'),
  send: $<HTMLButtonElement>('send'),
  roomCount: $('room-count'),
  chatLog: $<HTMLOListElement>('chat-log'),
  handshake: $<HTMLDetailsElement>('handshake'),
  handshakeSummary: $('handshake-summary'),
  requestLine: $('request-line'),
  requestHeaders: $('request-headers'),
  responseLine: $('response-line'),
  responseHeaders: $('response-headers'),
  filter: $<HTMLInputElement>('filter'),
  countUp: $('count-up'),
  countDown: $('count-down'),
  spark: $<HTMLCanvasElement>('spark'),
  rate: $('rate'),
  clear: $<HTMLButtonElement>('clear'),
  framesWrap: $('frames-wrap'),
  frames: $<HTMLTableSectionElement>('frames'),
  empty: $('empty'),
  serverStats: $('server-stats'),
  statsNote: $('stats-note'),
  rejects: $<HTMLUListElement>('stat-rejects'),
};

const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const token = (crypto.randomUUID?.() ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`).replace(/[^A-Za-z0-9_-]/g, '');
ui.endpoint.textContent = `${wsBase}/`;
ui.name.value = sessionStorage.getItem('fullduplex-name') ?? `guest-${Math.floor(100 + Math.random() * 900)}`;

// ---- the chat connection -------------------------------------------------------------------------

/**
 * The backoff of both sockets: quick at first, at most 5 s apart (full jitter, ReconnectPolicy's
 * default); nothing queued while away (`queue: false`: `send` throws), see each socket below.
 */
const RECONNECT = { initialDelay: 500, maxDelay: 5_000, queue: false } as const;

let socket: ReconnectingWebSocket | null = null;
let myName = '';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function setStatus(state: 'closed' | 'connecting' | 'open' | 'closing' | 'reconnecting', text: string): void {
  ui.status.dataset['state'] = state;
  ui.statusText.textContent = text;
  const open = state === 'open';
  ui.connect.textContent = state === 'closed' ? 'Connect' : 'Disconnect';
  ui.connect.className = state === 'closed' ? 'primary' : 'danger';
  ui.connect.disabled = state === 'closing';
  ui.send.disabled = !open;
  ui.ping.disabled = !open || feed === null || feed.readyState !== ReconnectingWebSocket.OPEN;
  ui.name.disabled = state !== 'closed';
}

function timeOf(date: Date): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

function chatNote(text: string, className = 'chat-note'): void {
  const item = el('li', className, text);
  appendChat(item);
}

function appendChat(item: HTMLElement): void {
  const log = ui.chatLog;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(item);
  while (log.children.length > 500) log.firstElementChild?.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function onRoomEvent(event: RoomEvent): void {
  switch (event.type) {
    case 'welcome':
      myName = event.name;
      ui.roomCount.textContent = `${event.count} online`;
      break;
    case 'join':
    case 'leave':
      ui.roomCount.textContent = `${event.count} online`;
      chatNote(`${event.name} ${event.type === 'join' ? 'joined' : 'left'} the room`);
      break;
    case 'chat': {
      const item = el('li', `chat-msg ${event.from === myName ? 'mine' : 'theirs'}`);
      item.dataset['from'] = event.from;
      item.append(el('span', 'from', event.from), el('span', 'text', event.text), el('span', 'when', timeOf(new Date(event.time))));
      appendChat(item);
      break;
    }
  }
}

function connect(): void {
  const name = ui.name.value.trim();
  sessionStorage.setItem('fullduplex-name', name);
  const url = `${wsBase}/?tap=${encodeURIComponent(token)}&name=${encodeURIComponent(name)}`;
  // Nothing queued while away: the chat's Send is disabled unless open, so every message is sent live.
  const ws = new ReconnectingWebSocket(url, ['chat'], { reconnect: RECONNECT });
  ws.binaryType = 'arraybuffer';
  socket = ws;
  setStatus('connecting', 'connecting…');
  ws.addEventListener('reconnecting', (event: ReconnectingEvent) => {
    const { attempt, delay, code, reason } = event.detail;
    ui.status.dataset['attempt'] = String(attempt);
    ui.status.dataset['delay'] = String(Math.round(delay));
    setStatus('reconnecting', `reconnecting · attempt ${attempt} in ${seconds(delay)}`);
    if (attempt === 1) {
      chatNote(`connection lost: ${code} ${closeName(code)}${reason === '' ? '' : ` "${reason}"`} · reconnecting`, 'chat-note lost');
      ui.roomCount.textContent = '0 online';
    }
  });
  ws.addEventListener('reconnected', (event) => chatNote(`reconnected after ${seconds(event.detail.downtime)} (attempt ${event.detail.attempt})`, 'chat-note reconnected'));
  ws.onopen = () => {
    delete ui.status.dataset['attempt'];
    delete ui.status.dataset['delay'];
    setStatus('open', 'connected');
    ui.protocol.textContent = ws.protocol === '' ? '(none)' : ws.protocol;
    ui.extensions.textContent = ws.extensions === '' ? '(none)' : ws.extensions;
  };
  ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    if (typeof event.data === 'string') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        chatNote(event.data);
        return;
      }
      onRoomEvent(parsed as RoomEvent);
    } else {
      const bytes = new Uint8Array(event.data);
      const item = el('li', 'chat-binary', `binary echo · ${bytes.length} bytes · ${toHex(bytes.subarray(0, 48))}${bytes.length > 48 ? '…' : ''}`);
      appendChat(item);
    }
  };
  ws.onclose = (event) => {
    if (socket === ws) socket = null;
    delete ui.status.dataset['attempt'];
    delete ui.status.dataset['delay'];
    setStatus('closed', 'disconnected');
    chatNote(`connection closed: ${event.code} ${closeName(event.code)}${event.reason === '' ? '' : ` "${event.reason}"`}${event.wasClean ? '' : ' (not clean)'}`, 'chat-note closed');
    ui.roomCount.textContent = '0 online';
  };
}

ui.connect.addEventListener('click', () => {
  if (socket === null) {
    connect();
  } else {
    setStatus('closing', 'closing…');
    socket.close(1000, 'bye');
  }
});

function parseHex(text: string): Uint8Array<ArrayBuffer> | null {
  const digits = text.replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) return null;
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function kind(): 'text' | 'hex' {
  const checked = document.querySelector<HTMLInputElement>('input[name="kind"]:checked');
  return checked?.value === 'hex' ? 'hex' : 'text';
}

function validate(): boolean {
  const hex = kind() === 'hex';
  const ok = !hex || parseHex(ui.message.value) !== null;
  ui.message.classList.toggle('invalid', !ok);
  ui.messageHint.textContent = hex ? (ok ? `${parseHex(ui.message.value)?.length ?? 0} bytes` : 'hex digits, in pairs') : 'Enter to send';
  ui.message.placeholder = hex ? 'de ad be ef 00 ff' : 'Say something to the room…';
  return ok;
}

function send(): void {
  if (socket === null || socket.readyState !== ReconnectingWebSocket.OPEN || !validate()) return;
  if (kind() === 'hex') {
    const bytes = parseHex(ui.message.value);
    if (bytes === null) return;
    socket.send(bytes);
  } else {
    if (ui.message.value === '') return;
    socket.send(ui.message.value);
  }
  ui.message.value = '';
  validate();
}

ui.send.addEventListener('click', send);
ui.message.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    send();
  }
});
ui.message.addEventListener('input', validate);
for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="kind"]')) radio.addEventListener('change', validate);
ui.ping.addEventListener('click', () => {
  if (feed !== null && feed.readyState === ReconnectingWebSocket.OPEN) feed.send(JSON.stringify({ cmd: 'ping' }));
});

// ---- the inspector feed --------------------------------------------------------------------------

let feed: ReconnectingWebSocket | null = null;
const rowsBySeq = new Map<number, HTMLTableRowElement>();
let counts = { up: 0, down: 0 };
/** Frames per second, per direction: a ring of the last SPARK_SECONDS seconds. */
const perSecond: Array<{ second: number; up: number; down: number }> = [];

const FEED_TITLE = ui.feedStatus.title;

function openFeed(): void {
  // Commands (Ping) are not queued: they mean something only to the connection of the moment.
  const ws = new ReconnectingWebSocket(`${wsBase}/inspect?tap=${encodeURIComponent(token)}`, [], { reconnect: RECONNECT });
  feed = ws;
  ws.onopen = () => {
    ui.feedStatus.dataset['state'] = 'open';
    ui.feedStatus.title = FEED_TITLE;
    ui.ping.disabled = socket === null || socket.readyState !== ReconnectingWebSocket.OPEN;
  };
  ws.addEventListener('reconnecting', (event: ReconnectingEvent) => {
    ui.feedStatus.dataset['state'] = 'reconnecting';
    ui.feedStatus.title = `${FEED_TITLE} · reconnecting, attempt ${event.detail.attempt} in ${seconds(event.detail.delay)}`;
    ui.ping.disabled = true;
  });
  ws.onmessage = (event: MessageEvent<string>) => onFeedEvent(JSON.parse(event.data) as FeedEvent);
  // Only a final close ends it (the hub's 1008 for a bad token): then the page needs a reload.
  ws.onclose = () => {
    ui.feedStatus.dataset['state'] = 'closed';
    ui.ping.disabled = true;
    if (feed === ws) feed = null;
  };
}

function headerRows(body: HTMLElement, headers: Array<[string, string]>): void {
  body.replaceChildren(
    ...headers.map(([name, value]) => {
      const row = el('tr', /^sec-websocket-|^upgrade$|^connection$/i.test(name) ? 'ws' : '');
      row.append(el('th', '', name), el('td', '', value));
      return row;
    }),
  );
}

/** How the connection came, for people: RFC 8441's stream or RFC 6455's Upgrade. */
function viaLabel(http: HttpVersion): string {
  return http === '2' ? 'HTTP/2 (RFC 8441)' : 'HTTP/1.1 Upgrade';
}

function onHandshake(http: HttpVersion, request: HeaderBlock, response: HeaderBlock): void {
  ui.requestLine.textContent = request.line;
  ui.responseLine.textContent = response.line;
  headerRows(ui.requestHeaders, request.headers);
  headerRows(ui.responseHeaders, response.headers);
  const status = response.line.replace(/^HTTP\/\S+\s*/, '');
  const via = viaLabel(http);
  ui.handshakeSummary.textContent = `${via} · ${request.line.split(' ').slice(0, 2).join(' ')} → ${status}`;
  ui.handshakeSummary.dataset['http'] = http;
  const divider = el('tr', 'divider');
  divider.dataset['http'] = http;
  const cell = el('td', '', `New connection · ${new Date().toLocaleTimeString([], { hour12: false })} · ${via} · ${status}`);
  cell.colSpan = 9;
  divider.append(cell);
  addRow(divider, `${request.line} ${status}`);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function flag(on: boolean): HTMLTableCellElement {
  return el('td', on ? 'flag-on' : 'flag-off', on ? '1' : '0');
}

function fillPayload(cell: HTMLElement, frame: { preview: string; previewKind: string; truncated: boolean }, inflated: number | null = null): void {
  cell.replaceChildren();
  if (frame.previewKind === 'empty') {
    cell.append(el('span', 'empty-payload', '(empty)'));
  } else if (frame.previewKind === 'close') {
    cell.append(el('span', 'close', frame.preview));
  } else if (frame.previewKind === 'hex') {
    cell.append(el('span', 'hex', frame.preview.replace(/(..)(?=.)/g, '$1 ')));
  } else {
    cell.append(document.createTextNode(frame.preview));
  }
  if (frame.truncated) cell.append(el('span', 'more', ' …'));
  if (inflated !== null) cell.append(el('span', 'decoded', `inflated · ${inflated.toLocaleString('en-US')} B`));
}

function onFrame(frame: FrameRecord): void {
  const up = frame.dir === 'in';
  const row = el('tr', `frame ${up ? 'up' : 'down'}`);
  row.dataset['dir'] = up ? 'up' : 'down';
  row.dataset['opcode'] = String(frame.opcode);
  row.dataset['length'] = String(frame.length);
  row.dataset['seq'] = String(frame.seq);
  if (frame.closeCode !== undefined) row.dataset['closeCode'] = String(frame.closeCode);
  const opcode = el('td');
  opcode.append(el('span', `op op-${frame.opcodeName}`, `${frame.opcodeName} ${frame.opcode}`));
  const payload = el('td', 'payload');
  let preview = frame;
  if (frame.opcode === 8 && frame.closeCode !== undefined) {
    preview = { ...frame, preview: `${frame.closeCode} ${closeName(frame.closeCode)}${frame.closeReason ? ` · "${frame.closeReason}"` : ''}` };
  }
  fillPayload(payload, preview);
  row.append(
    el('td', 'time', clock(frame.time)),
    el('td', 'dir', up ? '↑' : '↓'),
    opcode,
    flag(frame.fin),
    flag(frame.rsv1),
    flag(frame.masked),
    el('td', 'num', frame.length.toLocaleString('en-US')),
    el('td', frame.compressed ? 'deflate' : 'flag-off', frame.compressed ? 'compressed' : '–'),
    payload,
  );
  payload.title = frame.preview;
  row.title = `${up ? 'client → server' : 'server → client'} · ${frame.opcodeName} · ${frame.length} bytes on the wire${frame.compressed ? ' (compressed)' : ''}`;
  rowsBySeq.set(frame.seq, row);
  addRow(row, `${up ? 'up ↑ in client' : 'down ↓ out server'} ${frame.opcodeName} ${frame.preview} ${frame.closeName ?? ''}`);
  if (up) counts.up++;
  else counts.down++;
  ui.countUp.textContent = String(counts.up);
  ui.countDown.textContent = String(counts.down);
  tally(up);
}

function addRow(row: HTMLTableRowElement, searchText: string): void {
  const wrap = ui.framesWrap;
  const atBottom = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 60;
  row.dataset['search'] = searchText.toLowerCase();
  applyFilter(row);
  ui.frames.append(row);
  ui.empty.classList.add('gone');
  while (ui.frames.children.length > MAX_ROWS) {
    const first = ui.frames.firstElementChild as HTMLTableRowElement | null;
    if (first === null) break;
    rowsBySeq.delete(Number(first.dataset['seq']));
    first.remove();
  }
  if (atBottom) wrap.scrollTop = wrap.scrollHeight;
}

function onFeedEvent(event: FeedEvent): void {
  switch (event.type) {
    case 'hello':
      break;
    case 'handshake':
      onHandshake(event.http, event.request, event.response);
      break;
    case 'frame':
      onFrame(event);
      break;
    case 'decoded': {
      const row = rowsBySeq.get(event.seq);
      const cell = row?.querySelector<HTMLElement>('td.payload');
      if (row !== undefined && cell !== null && cell !== undefined) {
        fillPayload(cell, event, event.length);
        cell.title = event.preview;
        row.dataset['search'] = `${row.dataset['search'] ?? ''} ${event.preview.toLowerCase()}`;
        applyFilter(row);
      }
      break;
    }
    case 'stats':
      onStats(event.stats);
      break;
    case 'tap-stopped': {
      const row = el('tr', 'notice');
      const cell = el('td', '', `The server stopped inspecting this connection: ${event.reason}`);
      cell.colSpan = 9;
      row.append(cell);
      addRow(row, event.reason);
      break;
    }
  }
}

// ---- the server's stats --------------------------------------------------------------------------

/** When the last stats arrived (performance.now()), to show them as stale when the feed stops. */
let statsAt = -Infinity;
const STATS_STALE_MS = 3500;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]!}`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** One figure: its text for people, its number in `data-value` (for tests and the curious). */
function setStat(id: string, value: number, text: string): void {
  const cell = $(id);
  cell.textContent = text;
  cell.dataset['value'] = String(value);
}

function onStats(stats: StatsSnapshot): void {
  statsAt = performance.now();
  ui.serverStats.dataset['state'] = 'live';
  ui.statsNote.textContent = `up ${formatUptime(stats.uptime)}`;
  setStat('stat-connections', stats.connections, count(stats.connections));
  setStat('stat-handshakes', stats.handshakes, count(stats.handshakes));
  setStat('stat-handshakes-rate', stats.handshakesPerSecond, stats.handshakesPerSecond.toFixed(1));
  setStat('stat-rejected', stats.rejected, count(stats.rejected));
  setStat('stat-messages-in', stats.messagesIn, count(stats.messagesIn));
  setStat('stat-messages-out', stats.messagesOut, count(stats.messagesOut));
  setStat('stat-bytes-in', stats.bytesIn, bytes(stats.bytesIn));
  setStat('stat-bytes-out', stats.bytesOut, bytes(stats.bytesOut));
  setStat('stat-buffered', stats.bufferedBytes, bytes(stats.bufferedBytes));
  setStat('stat-topics', stats.topics, `${count(stats.topics)} · ${count(stats.subscriptions)} subs`);
  ui.rejects.replaceChildren(
    ...stats.rejects.map((reject) => {
      const item = el('li');
      item.dataset['status'] = String(reject.status);
      item.dataset['code'] = reject.code;
      item.append(el('span', '', `${reject.status === 0 ? 'dropped' : reject.status} ${reject.code}`), el('span', '', `× ${count(reject.count)}`));
      return item;
    }),
  );
}

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

setInterval(() => {
  if (ui.serverStats.dataset['state'] === 'live' && performance.now() - statsAt > STATS_STALE_MS) {
    ui.serverStats.dataset['state'] = 'stale';
    ui.statsNote.textContent = 'no stats: the feed is away';
  }
}, 1000);

// ---- filter, sparkline ---------------------------------------------------------------------------

function applyFilter(row: HTMLTableRowElement): void {
  const query = ui.filter.value.trim().toLowerCase();
  row.classList.toggle('hidden', query !== '' && !(row.dataset['search'] ?? '').includes(query));
}

ui.frames.addEventListener('click', (event) => {
  const row = (event.target as HTMLElement).closest<HTMLTableRowElement>('tr.frame');
  if (row !== null && (window.getSelection()?.toString() ?? '') === '') row.classList.toggle('expanded');
});

ui.filter.addEventListener('input', () => {
  for (const row of ui.frames.querySelectorAll<HTMLTableRowElement>('tr')) applyFilter(row);
});

ui.clear.addEventListener('click', () => {
  ui.frames.replaceChildren();
  rowsBySeq.clear();
  counts = { up: 0, down: 0 };
  ui.countUp.textContent = '0';
  ui.countDown.textContent = '0';
  ui.empty.classList.remove('gone');
});

function tally(up: boolean): void {
  const second = Math.floor(Date.now() / 1000);
  let last = perSecond[perSecond.length - 1];
  if (last === undefined || last.second !== second) {
    last = { second, up: 0, down: 0 };
    perSecond.push(last);
    while (perSecond.length > SPARK_SECONDS + 1) perSecond.shift();
  }
  if (up) last.up++;
  else last.down++;
  drawSpark();
}

function drawSpark(): void {
  const canvas = ui.spark;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 240;
  const height = canvas.clientHeight || 40;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext('2d');
  if (g === null) return;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const now = Math.floor(Date.now() / 1000);
  const bySecond = new Map(perSecond.map((entry) => [entry.second, entry]));
  const series: Array<{ up: number; down: number }> = [];
  for (let s = now - SPARK_SECONDS + 1; s <= now; s++) series.push(bySecond.get(s) ?? { up: 0, down: 0 });
  const peak = Math.max(4, ...series.map((p) => p.up + p.down));
  const step = width / SPARK_SECONDS;
  const top = 4;
  const usable = height - top - 2;
  const y = (value: number): number => height - 2 - (value / peak) * usable;
  const line = (values: number[], stroke: string, fill: string): void => {
    g.beginPath();
    values.forEach((value, i) => {
      const x = i * step + step / 2;
      if (i === 0) g.moveTo(x, y(value));
      else g.lineTo(x, y(value));
    });
    g.lineWidth = 1.5;
    g.strokeStyle = stroke;
    g.lineJoin = 'round';
    g.stroke();
    g.lineTo((values.length - 1) * step + step / 2, height);
    g.lineTo(step / 2, height);
    g.closePath();
    g.fillStyle = fill;
    g.fill();
  };
  // Stacked: ↓ on top of ↑.
  line(series.map((p) => p.up + p.down), '#f6c35b', 'rgba(246, 195, 91, 0.16)');
  line(series.map((p) => p.up), '#4fd1c5', 'rgba(79, 209, 197, 0.22)');
  // The rate over the last 5 complete seconds (and the current one).
  const recent = series.slice(-6);
  const total = recent.reduce((sum, p) => sum + p.up + p.down, 0);
  ui.rate.textContent = `${(total / recent.length).toFixed(1)}/s`;
}

setInterval(drawSpark, 1000);
setStatus('closed', 'disconnected');
validate();
openFeed();
drawSpark();

// For tests and the curious: what the page knows.
Object.assign(window, { fullduplexInspector: { token, get socket() { return socket; } } });
export {};
