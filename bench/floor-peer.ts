// One side of the `ws-floor` scenario: the game's message traffic with no game at all.
//   server PORT          send one 50-byte binary message to every client every 50 ms
//   clients PORT N       N sockets, each sending one 30-byte binary message every 50 ms
// Prints `ready` once listening / connected, then one `frames N` line a second (clients).
import WebSocket, { WebSocketServer } from 'ws';

const [role, portArg, countArg] = process.argv.slice(2);
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
} else if (role === 'clients') {
  const n = Number(countArg);
  const sockets: WebSocket[] = [];
  let frames = 0;
  let open = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    ws.on('open', () => {
      if (++open === n) console.log('ready');
    });
    ws.on('message', () => frames++);
    ws.on('error', () => {});
    sockets.push(ws);
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
  console.error('usage: floor-peer.ts server PORT | clients PORT N');
  process.exit(2);
}
