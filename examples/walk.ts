// Walks a player in a circle and prints what the SDK sees. Against a running server:
//   node --import tsx examples/walk.ts [http://127.0.0.1:8080] [username password]
// Without a username it joins as a guest (the server must run with --guests true).
// Node 20 has no global WebSocket, so it passes one built on the `ws` package.
import WebSocket from 'ws';
import { BlueMarbleClient } from '../src/client/index.ts';
import type { WebSocketLike } from '../src/client/index.ts';

const [baseUrl = 'http://127.0.0.1:8080', username, password] = process.argv.slice(2);

const client = new BlueMarbleClient({
  baseUrl,
  createSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as WebSocketLike,
});

client.on('connected', (e) => console.log(`${e.reconnected ? 're' : ''}connected as entity ${e.welcome.entityId}, ${e.welcome.tickRate} Hz`));
client.on('disconnected', (e) => console.log(`disconnected (${e.code}${e.reason ? ` ${e.reason}` : ''})${e.willReconnect ? ', reconnecting' : ''}`));
client.on('entityEntered', (e) => console.log(`+ ${e.kind === 0 ? 'player' : 'npc'} ${e.id}`));
client.on('entityLeft', (e) => console.log(`- ${e.id}`));
client.on('rejected', (r) => console.log(`input ${r.inputSeq} rejected: ${r.reasonName}`));
client.on('zoneChanged', (z) => console.log(`zone ${z.from ?? '-'} -> ${z.to}`));
client.on('kicked', (k) => console.log(`kicked: ${k.reasonName} ${k.message}`));

if (username && password) await client.login({ username, password });
await client.connect();

const started = performance.now();
const walk = setInterval(() => {
  const t = (performance.now() - started) / 1000;
  client.setMove({ east: 4 * Math.cos(t / 4), north: 4 * Math.sin(t / 4), up: 0 }); // a circle of 16 m radius
  if (Math.floor(t * 20) % 10 === 0) client.act(1); // wave now and then (cooldown rejects show as 'rejected')
}, 50);
const render = setInterval(() => client.sample(), 16); // a game would call sample() once per rendered frame
const report = setInterval(() => {
  const s = client.stats;
  const me = client.self;
  console.log(
    `at ${me?.lat.toFixed(6)}, ${me?.lon.toFixed(6)} | rtt ${s.rttMs.toFixed(0)} ms | in view ${s.inView} | ` +
      `in ${(s.bytesInPerSecond / 1024).toFixed(1)} KiB/s | prediction error ${s.predictionErrorM.toFixed(2)} m | delay ${s.interpolationDelayMs.toFixed(0)} ms`,
  );
}, 1000);

const seconds = Number(process.env.WALK_SECONDS ?? 10);
setTimeout(() => {
  clearInterval(walk);
  clearInterval(render);
  clearInterval(report);
  void client.close().then(() => console.log('bye'));
}, seconds * 1000);
