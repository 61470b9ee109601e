// Clients that poll one admin path back to back, each on its own keep-alive connection, for a while; then one
// JSON line with what they got. What an operator's script, a dashboard or a second Prometheus does to the
// admin surface at worst.
//   node dist/bench/admin/hammer.js URL PATH CLIENTS SECONDS
import { Agent, request } from 'node:http';

interface Tally { requests: number; bytes: number; statuses: Record<string, number>; errors: number }

function poll(url: URL, path: string, until: number, tally: Tally): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve) => {
    const next = (): void => {
      if (Date.now() >= until) { agent.destroy(); resolve(); return; }
      const req = request({ host: url.hostname, port: url.port, path, agent, headers: { accept: '*/*' } }, (res) => {
        res.on('data', (chunk: Buffer) => { tally.bytes += chunk.length; });
        res.on('end', () => {
          tally.requests++;
          tally.statuses[res.statusCode ?? 0] = (tally.statuses[res.statusCode ?? 0] ?? 0) + 1;
          // A 429 asks to wait: a well-behaved client does (Retry-After, in seconds).
          const retry = res.statusCode === 429 ? Number(res.headers['retry-after'] ?? 1) * 1000 : 0;
          setTimeout(next, retry);
        });
      });
      req.on('error', () => { tally.errors++; setTimeout(next, 50); });
      req.end();
    };
    next();
  });
}

async function main(): Promise<void> {
  const [base, path, clients, seconds] = process.argv.slice(2);
  const url = new URL(base);
  const until = Date.now() + Number(seconds) * 1000;
  const tally: Tally = { requests: 0, bytes: 0, statuses: {}, errors: 0 };
  process.stdout.write('hammering\n');
  await Promise.all(Array.from({ length: Number(clients) }, () => poll(url, path, until, tally)));
  process.stdout.write(`${JSON.stringify(tally)}\n`);
}

void main();
