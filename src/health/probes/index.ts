// Probes make ONE attempt and honour the AbortSignal; the checker owns interval, timeout and retries.
import type { HealthCheck, HealthCheckType } from '../../spec/types.js';
import type { CheckResult } from '../types.js';
import { httpsProbe } from './https.js';
import { startTcp, tcpProbe } from './tcp.js';
import { tlsProbe } from './tls.js';

export interface ProbeTarget { address: string; port: number }

/** One attempt. Never rejects: every failure, including an abort, is a result with ok=false and a reason. */
export type Probe = (target: ProbeTarget, check: HealthCheck, signal: AbortSignal) => Promise<CheckResult>;

/** An attempt in flight, as the checker holds it. */
export interface Attempting {
  /** Closes what the attempt opened; it reports nothing afterwards. `reason` says why (timeout or stop). */
  cancel(reason: DOMException): void;
}

/**
 * One attempt in callback form: reports once through `done` (every failure a result) unless cancelled.
 * What the checker runs: at a thousand checks a second, a promise, an AbortSignal listener and their
 * ticks per check cost a third as much CPU as the connects themselves.
 */
export type StartProbe = (target: ProbeTarget, check: HealthCheck, done: (result: CheckResult) => void) => Attempting;

export const PROBES: Record<HealthCheckType, Probe> = { tcp: tcpProbe, tls: tlsProbe, https: httpsProbe };

export { httpsProbe, startTcp, tcpProbe, tlsProbe };
