// What every probe shares: one settle-once result, abort handling, error wording, cert files.
import { readFile, stat } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { credentialPath } from '../../credentials.js';
import { addressKind } from '../../spec/address.js';
import { formatDuration } from '../../spec/duration.js';
import type { HealthCheck } from '../../spec/types.js';
import type { CheckResult } from '../types.js';
import type { ProbeTarget } from './index.js';

/** One attempt's outcome: a health check result, plus the bare failure and what the attempt saw (for `probe`). */
export interface Attempted<T = undefined> extends CheckResult {
  /** Why it failed without the phase: "ECONNREFUSED", "timeout after 5s", "closed". */
  error?: string;
  /** What the attempt inspected on success (e.g. the server certificate). */
  detail?: T;
}

export interface Attempt<T = undefined> {
  /** Resolves the attempt's promise once; later calls are ignored. Returns true for the first call. */
  settle(ok: boolean, reason: string, more?: { error?: string; detail?: T }): boolean;
  readonly settled: boolean;
}

/**
 * Runs one attempt: `body` opens sockets and calls settle(); `cleanup` runs exactly once after
 * settling (close sockets there). An abort of `signal` settles with "timeout after 5s" (the timeout
 * given) or "aborted".
 */
export function attempt<T = undefined>(timeoutMs: number, signal: AbortSignal, body: (a: Attempt<T>) => void | Promise<void>, cleanup: () => void): Promise<Attempted<T>> {
  const started = performance.now();
  return new Promise<Attempted<T>>((resolve) => {
    let settled = false;
    const onAbort = () => { const reason = abortReason(signal, timeoutMs); a.settle(false, reason, { error: reason }); };
    const a: Attempt<T> = {
      get settled() { return settled; },
      settle(ok, reason, more) {
        if (settled) return false;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        cleanup();
        resolve({ ok, reason, latencyMs: Math.round((performance.now() - started) * 10) / 10, at: Date.now(), ...more });
        return true;
      },
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(() => body(a))
      .catch((error: unknown) => {
        const reason = error instanceof CertificateFileError ? error.message : `probe error ${errorCode(error)}`;
        a.settle(false, reason, { error: reason });
      });
  });
}

/** A health check's result: the attempt without what only `probe` shows (the snapshot and API carry exactly this). */
export function asCheckResult({ ok, reason, latencyMs, at }: Attempted<unknown>): CheckResult {
  return { ok, reason, latencyMs, at };
}

/** "timeout after 5s" when the timeout fired, "aborted" when the caller stopped. */
export function abortReason(signal: AbortSignal, timeoutMs: number): string {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError' ? `timeout after ${formatDuration(timeoutMs)}` : 'aborted';
}

/** The short code of a socket or TLS error ("ECONNREFUSED", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"). */
export function errorCode(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  if (e && typeof e.code === 'string' && e.code) return e.code;
  if (e && typeof e.message === 'string' && e.message) return e.message;
  return String(error);
}

// Certificate files are read again only when they change (rotation), not on every attempt.
const files = new Map<string, { mtimeMs: number; size: number; data: Buffer }>();

async function readCached(path: string): Promise<Buffer> {
  const info = await stat(path);
  const hit = files.get(path);
  if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit.data;
  const data = await readFile(path);
  files.set(path, { mtimeMs: info.mtimeMs, size: info.size, data });
  return data;
}

/** Thrown when a configured caFile/certFile/keyFile cannot be read; the probe reports it as its reason. */
export class CertificateFileError extends Error {
  constructor(readonly field: string, readonly path: string, cause: unknown) {
    super(`${field} ${errorCode(cause)} ${path}`, { cause });
  }
}

async function readField(field: string, path: string): Promise<Buffer> {
  try {
    // Under systemd with LoadCredential= (render builtin writes it for these files) the readable copy is elsewhere.
    return await readCached(await credentialPath(path));
  } catch (error) {
    throw new CertificateFileError(field, path, error);
  }
}

/**
 * TLS options for a check: verify against caFile when given (SNI = the address when it is a DNS
 * name; an IP address is matched against the certificate's IP SANs), else accept any certificate;
 * present the client certificate when configured.
 */
export async function tlsOptions(target: ProbeTarget, check: Pick<HealthCheck, 'caFile' | 'clientCertificate'>): Promise<ConnectionOptions> {
  const options: ConnectionOptions = { host: target.address, port: target.port, rejectUnauthorized: false };
  if (addressKind(target.address) === 'dns') options.servername = target.address;
  if (check.caFile) {
    options.ca = await readField('caFile', check.caFile);
    options.rejectUnauthorized = true;
  }
  if (check.clientCertificate) {
    options.cert = await readField('certFile', check.clientCertificate.certFile);
    options.key = await readField('keyFile', check.clientCertificate.keyFile);
  }
  return options;
}
