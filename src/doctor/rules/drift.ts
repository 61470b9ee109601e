// Drift: a file and the spec disagree (server lists, ports, VIP, thresholds, timeouts). Each engine's
// drift rule compares what it can read; this is the finding they share.
import type { RuleFinding } from '../finding.js';

export function driftFinding(line: number, what: string, spec: string, file: string): RuleFinding {
  return {
    severity: 'warning', line,
    message: `${what}: the spec says ${spec}, this file ${file}`,
    why: 'the file no longer matches the spec (it was rendered from an older spec, or written by hand): what runs differs from what serve, probe, watch and the other rendered files assume',
    source: 'docs/doctor.md#drift ; cluster-endpoint render --check',
    fix: 'render the file again from the spec (cluster-endpoint render <target> -c endpoint.yaml), or change the spec to match',
  };
}
