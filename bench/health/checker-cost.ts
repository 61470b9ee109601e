// Where the CPU of 1,000 health checks a second goes: the HealthChecker alone (a probe that answers at once,
// no socket), then with its own tcp check (what serve runs: the engine's connect-only probe). Runs in this process for `seconds` and prints one JSON line:
//   node dist/bench/health/checker-cost.js noop|tcp PORT [SERVERS] [SECONDS]
// PORT: where bench/health/listeners.ts listens (tcp only).
import { HealthChecker } from '../../src/health/checker.js';
import type { Probe } from '../../src/health/probes/index.js';
import type { HealthCheck } from '../../src/spec/types.js';
import { serverAddress } from './listeners.js';

const [variant = 'noop', portText = '0', serversText = '1000', secondsText = '10'] = process.argv.slice(2);
const servers = Number(serversText);
const seconds = Number(secondsText);
const answerAtOnce: Probe = async () => ({ ok: true, reason: 'ok', latencyMs: 0, at: Date.now() });
const check: HealthCheck = { type: 'tcp', intervalMs: 1000, fastIntervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2, path: '/', expectStatuses: [200] };
let results = 0;
const checkers = Array.from({ length: servers }, (_, i) => new HealthChecker({
  target: { name: `n${i}`, listener: 'bench', address: serverAddress(i), port: Number(portText) },
  check,
  ...(variant === 'noop' ? { probe: answerAtOnce } : {}),
  onChange() {},
  onResult() { results++; },
}));
for (const c of checkers) c.start();
await new Promise((r) => setTimeout(r, 3000));
const usage = process.cpuUsage();
const before = results;
const started = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const used = process.cpuUsage(usage);
const elapsed = (performance.now() - started) / 1000;
for (const c of checkers) c.stop();
process.stdout.write(`${JSON.stringify({
  variant,
  userPercent: used.user / 1e4 / elapsed,
  systemPercent: used.system / 1e4 / elapsed,
  checksPerSecond: (results - before) / elapsed,
  up: checkers.filter((c) => c.state === 'up').length,
})}\n`);
