// Reading the dashboard plan as Prometheus would: its queries with Grafana's variables filled in, and the
// metric names a query reads.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RowPlan } from '../../../../src/render/prometheus/dashboard.js';

export interface PanelQuery { panel: string; row: string; expr: string }

/** Every query of every panel; Grafana's $__rate_interval and the $instance/$listener variables substituted. */
export function panelQueries(rows: RowPlan[], options: { rateInterval?: string } = {}): PanelQuery[] {
  return rows.flatMap((row) => row.panels.flatMap((panel) => panel.queries.map((q) => ({
    row: row.title,
    panel: panel.title,
    expr: q.expr.replaceAll('$__rate_interval', options.rateInterval ?? '1m').replaceAll('$instance', '.*').replaceAll('$listener', '.*'),
  }))));
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * Metric names in a PromQL expression: identifiers outside label matchers, ranges, strings and grouping
 * lists that are not functions (followed by "(") or keywords.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)].filter((m) => !m[2] && !KEYWORDS.has(m[1].toLowerCase())).map((m) => m[1]);
  return [...new Set(names)];
}

export async function promtoolAvailable(): Promise<boolean> {
  try {
    await promisify(execFile)('promtool', ['--version']);
    return true;
  } catch {
    return false;
  }
}
