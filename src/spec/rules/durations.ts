import { formatDuration, parseDuration } from '../duration.js';
import type { Problem } from '../problem.js';
import { entries, record, type Rule } from './rule.js';

interface Range { minMs: number; maxMs: number }

const HEALTH_RANGES: Record<string, Range> = {
  interval: { minMs: 100, maxMs: 3_600_000 },
  fastInterval: { minMs: 100, maxMs: 3_600_000 },
  timeout: { minMs: 10, maxMs: 600_000 },
};

const TOP_RANGES: Record<string, Range> = {
  deregistrationDelay: { minMs: 0, maxMs: 3_600_000 },
};

const BALANCER_RANGES: Record<string, Range> = {
  connectTimeout: { minMs: 10, maxMs: 300_000 },
  idleTimeout: { minMs: 1000, maxMs: 7 * 24 * 3_600_000 },
  firstByteTimeout: { minMs: 0, maxMs: 60_000 },
};

const VIP_RANGES: Record<string, Range> = {
  advertInterval: { minMs: 10, maxMs: 40_950 },
};

/** Durations are in range, and a health check's timeout is below its interval. */
export const durations: Rule = {
  id: 'durations',
  check(raw) {
    const problems: Problem[] = [];
    checkRanges(raw, '', TOP_RANGES, problems);
    checkRanges(record(raw.balancer), 'balancer.', BALANCER_RANGES, problems);
    checkRanges(record(raw.vip), 'vip.', VIP_RANGES, problems);
    const top = record(raw.healthCheck);
    checkHealthCheck(top, {}, 'healthCheck.', problems);
    for (const [index, listener] of entries(raw.listeners)) {
      if (listener.healthCheck !== undefined) checkHealthCheck(record(listener.healthCheck), top, `listeners[${index}].healthCheck.`, problems);
    }
    return problems;
  },
};

function checkHealthCheck(check: Record<string, unknown>, inherited: Record<string, unknown>, prefix: string, problems: Problem[]): void {
  checkRanges(check, prefix, HEALTH_RANGES, problems);
  const interval = duration(check.interval ?? inherited.interval) ?? 10_000;
  const timeout = duration(check.timeout ?? inherited.timeout) ?? 5000;
  const ownsPair = check.interval !== undefined || check.timeout !== undefined;
  if (ownsPair && timeout >= interval) {
    const field = check.timeout !== undefined ? 'timeout' : 'interval';
    problems.push({
      code: 'SPEC_DURATION', severity: 'error', path: `${prefix}${field}`,
      message: `timeout ${formatDuration(timeout)} is not below interval ${formatDuration(interval)}`,
      hint: 'a check must finish before the next one starts: make timeout smaller than interval (the guide uses 5s / 10s)',
    });
  }
}

function checkRanges(section: Record<string, unknown>, prefix: string, ranges: Record<string, Range>, problems: Problem[]): void {
  for (const [key, range] of Object.entries(ranges)) {
    const ms = duration(section[key]);
    if (ms === undefined) continue;
    if (ms < range.minMs || ms > range.maxMs) {
      problems.push({
        code: 'SPEC_DURATION', severity: 'error', path: `${prefix}${key}`,
        message: `${formatDuration(ms)} is out of range`,
        hint: `use a value from ${formatDuration(range.minMs)} to ${formatDuration(range.maxMs)}`,
      });
    }
  }
}

function duration(value: unknown): number | undefined {
  return typeof value === 'string' ? parseDuration(value) : undefined;
}
