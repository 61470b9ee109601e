// A client for the BGP test bed: opens a new TCP connection to HOST:PORT every INTERVAL ms without waiting for
// the previous one (ECMP sends each to one LB host; a dead one must not hide the others), each with TIMEOUT ms to
// connect and read one line; prints {"start","end","connectedAt"?,"ok","reply"|"error"} per attempt. Bounded by DURATION ms and
// by a cap on attempts in flight; stops early when stdin closes. With PORTS (comma-separated) each attempt uses the
// next of those local ports: the router hashes a flow by its ports too, so a port always takes the same LB host.
// Connections end with a reset, so a local port is free again at once (no TIME_WAIT).
//   ip netns exec NS node --import tsx test/integration/bgp/prober.ts HOST PORT INTERVAL_MS DURATION_MS TIMEOUT_MS [PORTS]
import { connect } from 'node:net';

const [host, portText, intervalText, durationText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const intervalMs = Number(intervalText);
const stopAt = Date.now() + Number(durationText);
const timeoutMs = Number(timeoutText);
const ports = process.argv[7] ? process.argv[7].split(',').map(Number) : [];
let next = 0;
const MAX_IN_FLIGHT = 200;
let inFlight = 0;
let stopped = false;
process.stdin.on('end', () => { stopped = true; }).resume();

function attempt(): void {
  const start = Date.now();
  inFlight++;
  const localPort = ports.length > 0 ? ports[next++ % ports.length] : undefined;
  const socket = connect({ host, port, ...(localPort ? { localPort } : {}) });
  let connected = false;
  let connectedAt: number | undefined;
  socket.on('connect', () => { connected = true; connectedAt = Date.now(); });
  let reply = '';
  let done = false;
  const finish = (result: { ok: boolean; reply?: string; error?: string }) => {
    if (done) return;
    done = true;
    inFlight--;
    clearTimeout(timer);
    if (connected && !socket.destroyed) socket.resetAndDestroy(); else socket.destroy();
    process.stdout.write(`${JSON.stringify({ start, end: Date.now(), ...(localPort ? { localPort } : {}), ...(connectedAt !== undefined ? { connectedAt } : {}), ...result })}\n`);
  };
  const timer = setTimeout(() => finish({ ok: false, error: reply ? 'no-line' : 'timeout' }), timeoutMs);
  socket.on('data', (d: Buffer) => { reply += d; if (reply.includes('\n')) finish({ ok: true, reply: reply.trim() }); });
  socket.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
  socket.on('close', () => finish({ ok: false, error: 'closed' }));
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const timer = setInterval(() => {
  if (stopped || Date.now() >= stopAt) {
    clearInterval(timer);
    const wait = setInterval(() => { if (inFlight === 0) { clearInterval(wait); process.exit(0); } }, 10);
    setTimeout(() => process.exit(0), timeoutMs + 100);
    return;
  }
  if (inFlight < MAX_IN_FLIGHT) attempt();
}, intervalMs);
