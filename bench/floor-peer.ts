// One side of the `ws-floor` scenario: the game's message traffic with no game at all.
//   server PORT          send one 50-byte binary message to every client every 50 ms
//   clients PORT N [C]   N sockets, each sending one 30-byte binary message every 50 ms, with
//                        client C: ws (default, `ws` through its EventEmitter API) or wire (the
//                        bots' hand-written client, src/bots/wire-socket.ts)
// Prints `ready` once listening / connected, then one `frames N` line a second (clients).
import WebSocket, { WebSocketServer } from 'ws';
import { WireSocket } from '../src/bots/wire-socket.ts';

const [role, portArg, countArg, clientArg = 'ws'] = process.argv.slice(2);
const port = Number(portArg);
const PERIOD_MS = 50;

if (role === 'server') {
  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
  const frame = Buffer.alloc(50, 7);
  wss.on('connection', (ws) => ws.on('message', () => {}));
  wss.on('listening', () => console.log('ready'));
  let next = performance.now() + PERIOD_MS;
  const step = (): void => {
    // A fresh buffer per send, as the server's frames are.
    for (const ws of wss.clients) ws.send(Buffer.from(frame));
    next += PERIOD_MS;
    setTimeout(step, Math.max(0, next - performance.now()));
  };
  setTimeout(step, PERIOD_MS);
} else if (role === 'clients' && (clientArg === 'ws' || clientArg === 'wire')) {
  const n = Number(countArg);
  const sockets: { readyState: number; send(data: Uint8Array): void }[] = [];
  let frames = 0;
  let open = 0;
  const opened = (): void => {
    if (++open === n) console.log('ready');
  };
  for (let i = 0; i < n; i++) {
    if (clientArg === 'ws') {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      ws.on('open', opened);
      ws.on('message', () => frames++);
      ws.on('error', () => {});
      sockets.push(ws);
    } else {
      const ws = new WireSocket(`ws://127.0.0.1:${port}`);
      ws.onopen = opened;
      ws.onmessage = () => frames++;
      sockets.push(ws);
    }
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
  }
  const input = Buffer.alloc(30, 1);
  setInterval(() => {
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(input);
  }, PERIOD_MS);
  setInterval(() => {
    console.log(`frames ${frames}`);
    frames = 0;
  }, 1000);
} else {
  console.error('usage: floor-peer.ts server PORT | clients PORT N [ws|wire]');
  process.exit(2);
}
