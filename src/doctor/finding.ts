// What doctor reports: one known trap found at one place, with why it matters (and where that is written
// down) and how to fix it.

export const SEVERITIES = ['error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  /** `<engine>/<rule>`, e.g. `haproxy/short-timeouts`; stable, documented in docs/doctor.md. */
  rule: string;
  severity: Severity;
  file: string;
  line: number;
  /** What is wrong, in one line. */
  message: string;
  /** Why it matters. */
  why: string;
  /** Where that is documented (a URL or a named reference). */
  source: string;
  /** How to fix it. */
  fix: string;
}

/** What a rule returns: the runner adds the rule id and the file unless the rule names them (cross-file findings). */
export type RuleFinding = Omit<Finding, 'file' | 'rule'> & { file?: string; rule?: string };

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function compareFindings(a: Finding, b: Finding): number {
  return a.file.localeCompare(b.file) || a.line - b.line || ORDER[a.severity] - ORDER[b.severity] || a.rule.localeCompare(b.rule);
}
