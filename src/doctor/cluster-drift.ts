// doctor with a spec that has discovery.kubernetes: the cluster is asked once which API servers it has, and the
// difference from the spec's controlPlane is reported (the spec drifted from the cluster).
import { clusterDrift, driftLines } from '../membership/kubernetes/drift.js';
import { parseSpec } from '../spec/load.js';
import { compareFindings, type Finding } from './finding.js';
import type { DoctorInput, DoctorReport } from './run.js';

const SOURCE = 'docs/discovery.md';

/** The report with findings for every spec among `inputs` whose discovery names a cluster. */
export async function withClusterDrift(report: DoctorReport, inputs: DoctorInput[], timeoutMs = 5000): Promise<DoctorReport> {
  const findings: Finding[] = [];
  for (const input of inputs) {
    if (!report.files.some((f) => f.path === input.path && f.kind === 'spec')) continue;
    const spec = parseSpec(input.text, input.path).spec;
    if (!spec?.discovery?.kubernetes) continue;
    const result = await clusterDrift(spec, timeoutMs);
    if (!result) continue;
    for (const message of driftLines(result)) {
      findings.push(result.error
        ? { rule: 'spec/cluster-unreachable', severity: 'info', file: input.path, line: 1, message, why: 'doctor compares controlPlane with the cluster\'s own list of API servers only when it can reach the API', source: SOURCE, fix: 'check discovery.kubernetes.kubeconfig and that an API server answers' }
        : { rule: 'spec/cluster-drift', severity: 'warning', file: input.path, line: 1, message, why: 'every engine but serve with discovery balances over controlPlane: a node the spec lacks gets no traffic, a node that left is checked and marked down forever', source: SOURCE, fix: 'make controlPlane match the cluster\'s API servers, then render again' });
    }
  }
  if (findings.length === 0) return report;
  const all = [...report.findings, ...findings].sort(compareFindings);
  const counts = { ...report.counts };
  for (const f of findings) counts[f.severity]++;
  return { ...report, findings: all, counts };
}
