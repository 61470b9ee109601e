// A continuous prober for the client namespace: a new TCP connection to HOST:PORT every INTERVAL ms until
// DURATION ms have passed (or stdin closes), each with a short timeout; prints one JSON line per attempt:
// {"start":…,"end":…,"ok":true,"reply":"lb-01"}. Bounded in count and time. `end` is when the connection
// was established (or failed), so `end − start` is the connect time.
// Against servers that send nothing on connect, pass REPLY_WAIT_MS 0: an attempt then ends when it connects.
//   ip netns exec NS node --import tsx test/integration/vip/prober.ts HOST PORT INTERVAL_MS DURATION_MS [TIMEOUT_MS [REPLY_WAIT_MS]]
import { connect } from 'node:net';

const [host, portText, intervalText, durationText, timeoutText, replyWaitText] = process.argv.slice(2);
const port = Number(portText);
const intervalMs = Number(intervalText);
const stopAt = Date.now() + Number(durationText);
const timeoutMs = Number(timeoutText ?? 50);
const replyWaitMs = Number(replyWaitText ?? 200);
let stopped = false;
process.stdin.on('end', () => { stopped = true; }).resume();

/** Success = the TCP connection is established within the timeout; the reply (who answered) is read if it comes. */
function attempt(): Promise<{ ok: boolean; at: number; reply?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    let connected = false;
    let at = 0;
    const finish = (result: { ok: boolean; reply?: string; error?: string }) => { clearTimeout(timer); socket.destroy(); resolve({ ...result, at: at || Date.now() }); };
    let timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      at = Date.now();
      clearTimeout(timer);
      if (replyWaitMs === 0) finish({ ok: true });
      else timer = setTimeout(() => finish({ ok: true }), replyWaitMs);
    });
    socket.on('data', (d: Buffer) => { reply += d; if (reply.includes('\n')) finish({ ok: true, reply: reply.trim() }); });
    socket.on('error', (e: NodeJS.ErrnoException) => finish(connected ? { ok: true, reply: reply.trim() || undefined } : { ok: false, error: e.code ?? e.message }));
    socket.on('end', () => finish(connected ? { ok: true, reply: reply.trim() || undefined } : { ok: false, error: 'closed' }));
  });
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
while (!stopped && Date.now() < stopAt) {
  const start = Date.now();
  const { at, ...result } = await attempt();
  process.stdout.write(`${JSON.stringify({ start, end: at, ...result })}\n`);
  const wait = start + intervalMs - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
process.exit(0);
