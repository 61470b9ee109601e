// Text output of doctor: one block per finding, then a one-line summary.
import type { Finding } from './finding.js';
import type { DoctorReport } from './run.js';

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: ${f.severity} [${f.rule}] ${f.message}\n    why: ${f.why}\n    see: ${f.source}\n    fix: ${f.fix}`;
}

export function formatSummary(report: DoctorReport): string {
  const { error, warning, info } = report.counts;
  const files = report.files.map((f) => `${f.path} (${f.kind})`).join(', ');
  const engines = report.engines.map((e) => (e.skipped ? `${e.engine} skipped: ${e.skipped}` : `${e.engine} on ${e.files} file(s)`)).join('; ');
  return `doctor: ${report.files.length} file(s) checked [${files}]: ${error} error(s), ${warning} warning(s), ${info} info${engines ? `\nengines: ${engines}` : ''}`;
}
