// What every probe shares: one settle-once result, abort handling, error wording, cert files.
import { readFile, stat } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { addressKind } from '../../spec/address.js';
import { formatDuration } from '../../spec/duration.js';
import type { HealthCheck } from '../../spec/types.js';
import type { CheckResult } from '../types.js';
import type { ProbeTarget } from './index.js';

export interface Attempt {
  /** Resolves the probe's promise once; later calls are ignored. Returns true for the first call. */
  settle(ok: boolean, reason: string): boolean;
  readonly settled: boolean;
}

/**
 * Runs one probe attempt: `body` opens sockets and calls settle(); `cleanup` runs exactly once after
 * settling (close sockets there). An abort of `signal` settles with "timeout after 5s" or "aborted".
 */
export function attempt(check: HealthCheck, signal: AbortSignal, body: (a: Attempt) => void | Promise<void>, cleanup: () => void): Promise<CheckResult> {
  const started = performance.now();
  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    const onAbort = () => { a.settle(false, abortReason(signal, check)); };
    const a: Attempt = {
      get settled() { return settled; },
      settle(ok, reason) {
        if (settled) return false;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        cleanup();
        resolve({ ok, reason, latencyMs: Math.round((performance.now() - started) * 10) / 10, at: Date.now() });
        return true;
      },
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(() => body(a))
      .catch((error: unknown) => { a.settle(false, error instanceof CertificateFileError ? error.message : `probe error ${errorCode(error)}`); });
  });
}

/** "timeout after 5s" when the checker's timeout fired, "aborted" when the checker stopped. */
export function abortReason(signal: AbortSignal, check: HealthCheck): string {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError' ? `timeout after ${formatDuration(check.timeoutMs)}` : 'aborted';
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
    return await readCached(path);
  } catch (error) {
    throw new CertificateFileError(field, path, error);
  }
}

/**
 * TLS options for a check: verify against caFile when given (SNI = the address when it is a DNS
 * name; an IP address is matched against the certificate's IP SANs), else accept any certificate;
 * present the client certificate when configured.
 */
export async function tlsOptions(target: ProbeTarget, check: HealthCheck): Promise<ConnectionOptions> {
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
