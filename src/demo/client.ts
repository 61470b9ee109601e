// Requests through the demo's balancer, to show which node answered: an in-process HTTPS GET (one new
// connection each, so round robin moves on) and, when installed, the real kubectl.
import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { NODE_HEADER } from './kube-api.js';

export interface Answer {
  ok: boolean;
  /** X-Demo-Node of the answer, or the error. */
  node?: string;
  status?: number;
  body?: string;
  error?: string;
}

export function getThroughBalancer(url: string, ca: string, timeoutMs = 3000): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { ca, agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => {
        const node = response.headers[NODE_HEADER];
        resolve({ ok: response.statusCode === 200, status: response.statusCode, node: Array.isArray(node) ? node[0] : node, body });
      });
      response.on('error', (error) => resolve({ ok: false, error: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, error: error.code ?? error.message }));
    req.end();
  });
}

export function runKubectl(kubectl: string, args: string[], timeoutMs = 10_000): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(kubectl, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ ok: !error, output: `${stdout}${stderr}`.trim() });
    });
  });
}
