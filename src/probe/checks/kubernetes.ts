import { request } from 'node:https';
import { errorCode } from '../../health/probes/attempt.js';
import type { ClientCredentials } from '../credentials.js';
import { tlsConnectionOptions } from './tls.js';

export interface HttpResult { status?: number; body?: string; error?: string }

export interface KubernetesResult {
  auth: 'anonymous' | 'client-certificate';
  readyz: HttpResult;
  version: HttpResult & { gitVersion?: string };
}

/** GET path over a fresh TLS connection (no keep-alive: each check is its own connection). */
export function httpsGet(host: string, port: number, path: string, timeoutMs: number, credentials?: ClientCredentials): Promise<HttpResult> {
  return new Promise((resolve) => {
    const req = request({
      ...tlsConnectionOptions(host, credentials), port, path, method: 'GET', agent: false,
      headers: { accept: 'application/json, text/plain', 'user-agent': 'cluster-endpoint-probe' },
      signal: AbortSignal.timeout(timeoutMs),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { if (body.length < 4096) body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (error) => resolve({ status: res.statusCode, error: errorCode(error) }));
    });
    req.on('error', (error) => resolve({ error: (error as { name?: string }).name === 'AbortError' ? `timeout after ${timeoutMs}ms` : errorCode(error) }));
    req.end();
  });
}

/** kube-apiserver's /readyz and /version, anonymously or with a kubeconfig's client certificate. */
export async function checkKubernetes(host: string, port: number, timeoutMs: number, credentials?: ClientCredentials): Promise<KubernetesResult> {
  const [readyz, version] = await Promise.all([
    httpsGet(host, port, '/readyz', timeoutMs, credentials),
    httpsGet(host, port, '/version', timeoutMs, credentials),
  ]);
  let gitVersion: string | undefined;
  if (version.status === 200 && version.body) {
    try {
      gitVersion = (JSON.parse(version.body) as { gitVersion?: string }).gitVersion;
    } catch { /* not JSON: reported as a status only */ }
  }
  return {
    auth: credentials?.cert ? 'client-certificate' : 'anonymous',
    readyz: { ...readyz, body: readyz.body?.trim().slice(0, 200) },
    version: { status: version.status, error: version.error, gitVersion },
  };
}
