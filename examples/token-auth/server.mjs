// Token authentication in the handshake: `authenticate` runs before the WebSocket is accepted, so a
// request without a valid token is answered 401 and never becomes a connection.
import { WebSocketServer, HandshakeRejection } from 'fullduplex';

// Stand-in for your session store or a signed token (JWT) check.
const users = new Map([
  ['token-of-alice', { name: 'alice' }],
  ['token-of-bob', { name: 'bob' }],
]);

// `Authorization: Bearer <token>` (Node clients), or `?token=` (browsers cannot set headers on a WebSocket).
function tokenOf(request) {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice('Bearer '.length);
  return new URL(request.url, 'http://localhost').searchParams.get('token');
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
  async authenticate(request) {
    const token = tokenOf(request);
    const user = token === null ? undefined : users.get(token);
    if (user === undefined) {
      // RFC 6750 §3: tell the client which scheme to use, and whether the token it sent was the problem.
      const challenge = token === null ? 'Bearer realm="example"' : 'Bearer realm="example", error="invalid_token"';
      throw new HandshakeRejection(401, 'A valid token is required', { 'WWW-Authenticate': challenge });
    }
    request.user = user; // the connection handler gets the same request
  },
});

wss.on('connection', (ws, request) => {
  const { name } = request.user;
  console.log(`connected: ${name}`);
  ws.send(`hello ${name}`);
  ws.on('message', (data) => ws.send(`${name} said: ${data}`));
});

wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
