// Shared fixtures for the health tests: checks, a throw-away PKI on disk, servers on 127.0.0.1.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Server } from 'node:net';
import { createCa, issueCertificate, type PemPair } from '../../../src/tls/certs.js';
import type { HealthCheck } from '../../../src/spec/types.js';

export function checkOf(overrides: Partial<HealthCheck> = {}): HealthCheck {
  return {
    type: 'tcp', intervalMs: 200, fastIntervalMs: 100, timeoutMs: 100, healthyThreshold: 2, unhealthyThreshold: 2,
    path: '/readyz', expectStatuses: [200], ...overrides,
  };
}

export interface Pki {
  dir: string;
  server: PemPair;
  client: PemPair;
  caPem: string;
  /** Files: ca.pem (the right CA), other-ca.pem (a CA that signed nothing here), client.pem / client-key.pem. */
  caFile: string;
  otherCaFile: string;
  clientCertificate: { certFile: string; keyFile: string };
  remove(): Promise<void>;
}

export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'ce-health-'));
  const ca = await createCa('health test CA');
  const other = await createCa('some other CA that signed nothing here');
  const server = await issueCertificate(ca, { commonName: 'cp-01', sans: ['127.0.0.1', 'localhost'] });
  const client = await issueCertificate(ca, { commonName: 'cluster-endpoint', sans: [], client: true, organization: 'system:masters' });
  const files = { caFile: join(dir, 'ca.pem'), otherCaFile: join(dir, 'other-ca.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client-key.pem') };
  await writeFile(files.caFile, ca.cert);
  await writeFile(files.otherCaFile, other.cert);
  await writeFile(files.certFile, client.cert);
  await writeFile(files.keyFile, client.key);
  return {
    dir, server, client, caPem: ca.cert, caFile: files.caFile, otherCaFile: files.otherCaFile,
    clientCertificate: { certFile: files.certFile, keyFile: files.keyFile },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Listens on host:0 (or the given port) and returns the port. */
export function listen(server: Server, host = '127.0.0.1', port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve((server.address() as AddressInfo).port); });
  });
}

/** Closes a server and every connection it still holds. */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
