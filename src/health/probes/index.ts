// Probes make ONE attempt and honour the AbortSignal; the checker owns interval, timeout and retries.
import type { HealthCheck, HealthCheckType } from '../../spec/types.js';
import type { CheckResult } from '../types.js';
import { httpsProbe } from './https.js';
import { tcpProbe } from './tcp.js';
import { tlsProbe } from './tls.js';

export interface ProbeTarget { address: string; port: number }

/** One attempt. Never rejects: every failure, including an abort, is a result with ok=false and a reason. */
export type Probe = (target: ProbeTarget, check: HealthCheck, signal: AbortSignal) => Promise<CheckResult>;

export const PROBES: Record<HealthCheckType, Probe> = { tcp: tcpProbe, tls: tlsProbe, https: httpsProbe };

export { httpsProbe, tcpProbe, tlsProbe };
