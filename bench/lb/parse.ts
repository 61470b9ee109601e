// Pure parsers for the load generators' output, and the statistics the report needs.

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Latency percentiles in milliseconds; present with --latency. */
  p50Ms?: number;
  p99Ms?: number;
  /** connect + read + write + timeout socket errors, and non-2xx/3xx responses. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(value: string, unit: string): number {
  const scale = UNIT_MS[unit];
  if (scale === undefined) throw new Error(`unknown wrk latency unit "${unit}"`);
  return Number(value) * scale;
}

export function parseWrk(output: string): WrkResult {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const total = /^\s*(\d+) requests in /m.exec(output);
  if (!rate || !total) throw new Error(`could not read wrk output:\n${output}`);
  const percentile = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    return match ? durationMs(match[1], match[2]) : undefined;
  };
  let errors = 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (socket) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  if (non2xx) errors += Number(non2xx[1]);
  return { requestsPerSecond: Number(rate[1]), requests: Number(total[1]), p50Ms: percentile('50'), p99Ms: percentile('99'), errors };
}

export interface IperfResult {
  gbitPerSecond: number;
}

/** iperf3 -J output: the receiver's average over the test (omitted warm-up seconds excluded). */
export function parseIperf(json: string): IperfResult {
  let data: { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
  try {
    data = JSON.parse(json);
  } catch {
    throw new Error(`iperf3 printed no JSON: ${json.slice(0, 300)}`);
  }
  if (data.error) throw new Error(`iperf3: ${data.error}`);
  const bps = data.end?.sum_received?.bits_per_second;
  if (typeof bps !== 'number') throw new Error('iperf3 JSON has no end.sum_received.bits_per_second');
  return { gbitPerSecond: bps / 1e9 };
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
