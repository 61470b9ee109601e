// New client connections through the balancer at a steady rate; for each, the time from connect() to the
// server's first byte (the backends greet): accept, upstream connect and the first relayed byte, i.e. what a
// new kubectl connection waits for. One JSON line at the end.
//   node dist/bench/admin/prober.js PORT RATE SECONDS
import { connect } from 'node:net';

async function main(): Promise<void> {
  const [port, rate, seconds] = process.argv.slice(2).map(Number);
  const latencies: number[] = [];
  let failures = 0;
  const every = 1000 / rate;
  const total = Math.round(rate * seconds);
  const attempts: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    // A steady schedule, not back to back: a stall shows as latency of the attempts that waited, not as fewer attempts.
    const due = started + i * every;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    attempts.push(new Promise<void>((resolve) => {
      const t0 = performance.now();
      const socket = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => { failures++; latencies.push(10_000); socket.destroy(); resolve(); }, 10_000);
      socket.once('data', () => { clearTimeout(timer); latencies.push(performance.now() - t0); socket.destroy(); resolve(); });
      socket.once('error', () => { clearTimeout(timer); failures++; resolve(); });
      socket.once('close', () => { clearTimeout(timer); resolve(); });
    }));
  }
  await Promise.all(attempts);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  process.stdout.write(`${JSON.stringify({ count: latencies.length, failures, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? Number.NaN })}\n`);
}

void main();
