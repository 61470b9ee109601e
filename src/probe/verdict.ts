// Is the endpoint usable? Pure: rows in, a verdict and the reasons out.
import { joinHostPort } from '../spec/address.js';
import type { ProbeRow } from './run.js';

export interface Verdict {
  usable: boolean;
  /** Why it is not usable (first = the one-line reason). */
  failures: string[];
  /** Problems that do not make it unusable (a node down, a certificate close to expiry). */
  warnings: string[];
}

const EXPIRY_WARNING_DAYS = 30;

export function verdict(rows: ProbeRow[]): Verdict {
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const row of rows) {
    const where = row.role === 'endpoint' ? `${joinHostPort(row.address, row.port)} (${row.listener})` : `${row.name} ${joinHostPort(row.address, row.port)} (${row.listener})`;
    const problems = rowProblems(row);
    if (row.role === 'endpoint') failures.push(...problems.map((p) => `${where}: ${p}`));
    else warnings.push(...problems.map((p) => `${where}: ${p}`));
    // Through the endpoint any node may answer: a node certificate that does not name the endpoint fails kubectl.
    if (row.role === 'node' && row.kind === 'kubernetes' && row.tls?.ok && row.tls.coversEndpoint === false) {
      failures.push(`${where}: its certificate does not name the endpoint, so kubectl fails verification whenever the balancer picks this node (add the endpoint to the API server certSANs)`);
    }
    if (row.tls?.ok && row.tls.daysLeft !== undefined && row.tls.daysLeft >= 0 && row.tls.daysLeft < EXPIRY_WARNING_DAYS) {
      warnings.push(`${where}: certificate expires in ${row.tls.daysLeft} day(s)`);
    }
  }
  return { usable: failures.length === 0, failures, warnings };
}

/** What is wrong with one row, in words. */
export function rowProblems(row: ProbeRow): string[] {
  if (!row.tcp.ok) return [`TCP connect failed (${row.tcp.error})`];
  const out: string[] = [];
  if (row.tls && !row.tls.ok) out.push(`TLS handshake failed (${row.tls.error})`);
  if (row.tls?.ok) {
    if (row.tls.daysLeft !== undefined && row.tls.daysLeft < 0) out.push(`certificate expired ${-row.tls.daysLeft} day(s) ago`);
    if (row.tls.verified === false) out.push(`certificate not signed by the given CA (${row.tls.verifyError})`);
    if (row.role === 'endpoint' && row.kind === 'kubernetes' && row.tls.coversEndpoint === false) out.push(`certificate does not name ${row.address} (SANs: ${row.tls.sans?.join(', ') || 'none'}), kubectl fails verification`);
  }
  const readyz = row.kubernetes?.readyz;
  if (readyz) {
    if (readyz.error) out.push(`/readyz failed (${readyz.error})`);
    else if (readyz.status !== 200 && readyz.status !== 401 && readyz.status !== 403) out.push(`/readyz answered ${readyz.status}${readyz.body ? ` (${readyz.body.split('\n').at(-1)})` : ''}`);
  }
  if (row.talos && !row.talos.ok) out.push(`Talos API version call failed (${row.talos.error})`);
  return out;
}
