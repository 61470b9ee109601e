// Pure: per-round measurements in, the comparison table (terminal and BENCHMARKS.md) out.
import { median } from './parse.js';

export const PROXIES = ['ours', 'haproxy'] as const;
export type ProxyName = (typeof PROXIES)[number];

export interface Measurement {
  /** iperf3 client → server (the client uploads), Gbit/s. */
  bulkUpGbps: number;
  /** iperf3 -R: server → client (watches, logs, downloads), Gbit/s. */
  bulkDownGbps: number;
  newConnectionsPerS: number;
  keepAliveRps: number;
  p50Ms: number;
  p99Ms: number;
  /** RSS growth for idleConnections held connections, MiB. */
  idleMiB: number;
  idleConnections: number;
  /** idleMiB scaled to 10,000 connections. */
  idleMiBPer10k: number;
  /** Proxy CPU use during each load, percent of one core. */
  cpu: LoadPercents;
  /** CPU time other processes (not the bench's) took on the proxy's CPU during each load, percent. */
  othersOnProxyCpu: LoadPercents;
  notes: string[];
}

export interface LoadPercents {
  bulkUp: number;
  bulkDown: number;
  newConnections: number;
  keepAlive: number;
}

export interface RoundResult {
  round: number;
  ours: Measurement;
  haproxy: Measurement;
}

type MetricKey = 'bulkUpGbps' | 'bulkDownGbps' | 'newConnectionsPerS' | 'keepAliveRps' | 'p50Ms' | 'p99Ms' | 'idleMiBPer10k';

export interface Metric {
  key: MetricKey;
  label: string;
  digits: number;
  /** min: ratio must be at least value; max: at most value. */
  bar?: { kind: 'min' | 'max'; value: number };
}

// The bar of issue 2, section 7.
export const METRICS: readonly Metric[] = [
  { key: 'bulkUpGbps', label: 'Bulk throughput client → server, Gbit/s', digits: 2, bar: { kind: 'min', value: 0.8 } },
  { key: 'bulkDownGbps', label: 'Bulk throughput server → client, Gbit/s', digits: 2, bar: { kind: 'min', value: 0.8 } },
  { key: 'newConnectionsPerS', label: 'New connections/s', digits: 0, bar: { kind: 'min', value: 0.5 } },
  { key: 'keepAliveRps', label: 'Keep-alive requests/s', digits: 0, bar: { kind: 'min', value: 0.75 } },
  { key: 'p50Ms', label: 'Keep-alive latency p50, ms', digits: 3 },
  { key: 'p99Ms', label: 'Keep-alive latency p99, ms', digits: 3, bar: { kind: 'max', value: 2 } },
  { key: 'idleMiBPer10k', label: 'Memory for 10,000 idle connections, MiB', digits: 1 },
];

export interface MetricSummary {
  metric: Metric;
  oursMedian: number;
  haproxyMedian: number;
  /** Median over rounds of (ours / haproxy) in the same round. */
  ratio: number;
  pass?: boolean;
}

export function summarize(rounds: RoundResult[]): MetricSummary[] {
  return METRICS.map((metric) => {
    const ours = rounds.map((r) => r.ours[metric.key]);
    const haproxy = rounds.map((r) => r.haproxy[metric.key]);
    const ratio = median(rounds.map((r) => r.ours[metric.key] / r.haproxy[metric.key]));
    const pass = metric.bar && Number.isFinite(ratio) ? (metric.bar.kind === 'min' ? ratio >= metric.bar.value : ratio <= metric.bar.value) : undefined;
    return { metric, oursMedian: median(ours), haproxyMedian: median(haproxy), ratio, pass };
  });
}

export interface RunInfo {
  date: string;
  command: string;
  machine: string;
  /** 1-minute load average before and after the run: other work on the machine makes the numbers noisier. */
  load: string;
  versions: string;
  rounds: number;
  pinning: string;
  idleConnections: number;
  idleNote?: string;
  ours: string;
  durationS: number;
}

const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function barText(metric: Metric): string {
  if (!metric.bar) return '—';
  return metric.bar.kind === 'min' ? `≥ ${metric.bar.value}×` : `≤ ${metric.bar.value}×`;
}

function verdict(summary: MetricSummary): string {
  if (summary.pass === undefined) return summary.metric.bar ? 'n/a' : '—';
  return summary.pass ? 'pass' : 'FAIL';
}

export function summaryTable(summaries: MetricSummary[]): string {
  const lines = [
    '| Metric | Ours (median) | HAProxy (median) | Ours / HAProxy (median of rounds) | Bar | Result |',
    '|---|---:|---:|---:|---|---|',
  ];
  for (const s of summaries) {
    lines.push(`| ${s.metric.label} | ${fmt(s.oursMedian, s.metric.digits)} | ${fmt(s.haproxyMedian, s.metric.digits)} | ${fmt(s.ratio, 3)} | ${barText(s.metric)} | ${verdict(s)} |`);
  }
  return lines.join('\n');
}

const percents = (p: LoadPercents) => [p.bulkUp, p.bulkDown, p.newConnections, p.keepAlive].map((v) => fmt(v, 0)).join(' / ');

export function roundsTable(rounds: RoundResult[]): string {
  const lines = [
    '| Round | Proxy | Bulk up Gbit/s | Bulk down Gbit/s | New conn/s | Keep-alive req/s | p50 ms | p99 ms | Idle conns | Idle MiB | MiB per 10k | Proxy CPU % (up / down / new / keep-alive) | Others on proxy CPU % (up / down / new / keep-alive) |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const round of rounds) {
    for (const proxy of PROXIES) {
      const m = round[proxy];
      lines.push(
        `| ${round.round} | ${proxy === 'ours' ? 'ours' : 'HAProxy'} | ${fmt(m.bulkUpGbps, 2)} | ${fmt(m.bulkDownGbps, 2)} | ${fmt(m.newConnectionsPerS, 0)} | ${fmt(m.keepAliveRps, 0)} | ${fmt(m.p50Ms, 3)} | ${fmt(m.p99Ms, 3)} | ${m.idleConnections} | ${fmt(m.idleMiB, 1)} | ${fmt(m.idleMiBPer10k, 1)} | ${percents(m.cpu)} | ${percents(m.othersOnProxyCpu)} |`,
      );
    }
  }
  return lines.join('\n');
}

export function notesList(rounds: RoundResult[]): string[] {
  const notes: string[] = [];
  for (const round of rounds) for (const proxy of PROXIES) for (const note of round[proxy].notes) notes.push(`round ${round.round}, ${proxy}: ${note}`);
  return notes;
}

export function markdownSection(info: RunInfo, rounds: RoundResult[]): string {
  const summaries = summarize(rounds);
  const failed = summaries.filter((s) => s.pass === false).map((s) => s.metric.label);
  const notes = notesList(rounds);
  return `## Built-in balancer vs HAProxy (issue 2, section 7)

Measured ${info.date} with \`${info.command}\` (took ${Math.round(info.durationS)} s).

- Machine: ${info.machine}; ${info.load}
- Software: ${info.versions}
- Ours: ${info.ours}
- ${info.rounds} interleaved rounds. In each round both proxies are started fresh and run side by side on their own ports (only one is loaded at a time); every metric is measured for one and then the other, seconds apart, and the order alternates between rounds (ours first in odd rounds, HAProxy first in even ones).
- ${info.pinning}

${summaryTable(summaries)}

${failed.length === 0 ? 'Every bar is met.' : `Bars missed: ${failed.join('; ')}.`}

### Per round

${roundsTable(rounds)}
${notes.length > 0 ? `\nNotes from the run:\n\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
### How it is measured

Everything runs on loopback; the backends listen on 127.0.0.31/.32 (control plane) and 127.0.0.41 (worker), the
proxies on 127.0.0.1. Both proxies get the same three frontends, the same servers, roundrobin, tcp health checks
every 2 s (rise 2, fall 2) and long timeouts; HAProxy runs \`nbthread 1\` in tcp mode without logging (the configs
are written by \`bench/lb/configs.ts\`).

- **Bulk throughput**: \`iperf3 -c … -t 5 -O 1 -J\` through the proxy to one iperf3 server (the worker); the
  receiver's rate without the first (warm-up) second. Both directions: the client sending (up) and, with \`-R\`,
  the server sending (down, as in watches, \`kubectl logs -f\` and downloads); the proxy reads from a different
  side in each.
- **New connections/s**: \`wrk -t1 -c50 -d5s -H 'Connection: close'\` through the proxy to nginx: every request is a
  new client connection and a new server connection.
- **Keep-alive requests/s, p50, p99**: \`wrk -t1 -c50 -d5s --latency\` through the proxy to nginx (one process,
  \`return 200\`, no access log, keep-alive longer than the test).
- **Memory**: the proxy's VmRSS (\`/proc/PID/status\`, summed over its processes) while holding ${info.idleConnections.toLocaleString('en-US')} client
  connections, each proxied to a backend that answered one byte, minus its idle RSS just before; scaled to 10,000.${info.idleNote ? ` ${info.idleNote}` : ''}
- Ratios are ours / HAProxy within a round, then the median over rounds. The bars (issue 2): throughput ≥ 0.8× (each direction), new
  connections ≥ 0.5×, keep-alive requests ≥ 0.75×, p99 latency ≤ 2×. Memory has no bar yet.
- Proxy CPU % is the proxy's user + system time during the load over wall time (100 = one core saturated). A proxy
  well below 100 % was held back by something else: the load generators and backends on the other core, or other
  work on the machine competing for its core. "Others on proxy CPU %" is the user + system time that processes
  other than the proxy spent on the proxy's CPU during the load (from \`/proc/stat\`); when it is high, that pair
  of numbers says more about the machine than about the proxies.
`;
}
