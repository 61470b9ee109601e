/**
 * Milliseconds as an HAProxy time ("10s", "1h", "250ms"). HAProxy takes one number and one unit,
 * never a compound such as "1m30s", so the largest unit that divides the value exactly is used.
 */
export function haproxyTime(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
