// Talking to the Kubernetes API for discovery: @kubernetes/client-node loads the credentials (a kubeconfig, or the
// pod's service account) and applies them — certificates, tokens, exec plugins — to each request; the requests are
// two plain HTTPS GETs, a list and a watch, so that every one has a deadline (a stuck API server must not stop
// discovery) and can go to any API server's address, not only the kubeconfig's (the endpoint may not be up yet).
import { existsSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';
import { UserError } from '../../errors.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const SLICES_PATH = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
/** kube-apiserver's own slices: the `kubernetes` Service in `default`. */
export const SELECTOR = 'kubernetes.io/service-name=kubernetes';

export interface ApiCredentials {
  /** The kubeconfig's server URL (or the in-cluster service address). */
  server: string;
  /** Options for one request: certificates, authorization header (tokens may rotate, so asked each time). */
  options(): Promise<RequestOptions>;
}

/** An answer other than 200: the HTTP status and the Status message the API sent. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Loads credentials from a kubeconfig (its current context) or, without one, from the pod's service account. */
export async function loadCredentials(kubeconfig: string | undefined): Promise<ApiCredentials> {
  // The kubeconfig module alone: the package's index would bring every API, exec, attach and cp into the executable.
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const config = new KubeConfig();
  const what = kubeconfig ?? 'the pod\'s service account';
  if (!kubeconfig && (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(SERVICE_ACCOUNT_TOKEN))) {
    throw new UserError('DISCOVERY', 'discovery.kubernetes: no kubeconfig given and serve does not run in a pod with a service account (no KUBERNETES_SERVICE_HOST or no token)', { hint: 'set discovery.kubernetes.kubeconfig to a kubeconfig that may list and watch EndpointSlices in default', exitCode: 2 });
  }
  try {
    if (kubeconfig) config.loadFromFile(kubeconfig);
    else config.loadFromCluster();
  } catch (error) {
    throw new UserError('DISCOVERY', `discovery.kubernetes: cannot load ${what}: ${(error as Error).message}`, { hint: kubeconfig ? 'check discovery.kubernetes.kubeconfig (a readable kubeconfig file)' : 'outside a pod, set discovery.kubernetes.kubeconfig', exitCode: 2 });
  }
  const cluster = config.getCurrentCluster();
  if (!cluster?.server) {
    throw new UserError('DISCOVERY', `discovery.kubernetes: ${what} has no current cluster with a server`, { hint: 'set current-context in the kubeconfig to a context whose cluster has a server URL', exitCode: 2 });
  }
  return {
    server: cluster.server,
    async options() {
      const options: RequestOptions = {};
      await config.applyToHTTPSOptions(options);
      return options;
    },
  };
}

/** Where a request goes: `base` (https://host:port); the certificate is checked against the kubeconfig's server name. */
export interface Target { base: string; credentials: ApiCredentials }

async function requestOptions(target: Target, url: URL, timeoutMs: number): Promise<RequestOptions> {
  const options = await target.credentials.options();
  const expected = new URL(target.credentials.server).hostname.replace(/^\[|\]$/g, '');
  return {
    ...options,
    method: 'GET',
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || 443,
    path: `${url.pathname}${url.search}`,
    headers: { ...(options.headers ?? {}), accept: 'application/json' },
    timeout: timeoutMs,
    // An API server's certificate names the kubeconfig's server (the endpoint) whichever address answers.
    ...(options.servername === undefined && isIP(expected) === 0 ? { servername: expected } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(expected, cert),
  };
}

function slicesUrl(base: string, query: Record<string, string>): URL {
  const url = new URL(SLICES_PATH, base);
  url.searchParams.set('labelSelector', SELECTOR);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url;
}

async function failure(status: number, body: string): Promise<ApiError> {
  let message = `HTTP ${status}`;
  try {
    const parsed = JSON.parse(body) as { message?: string; reason?: string };
    if (parsed.message) message = `${status} ${parsed.reason ?? ''}: ${parsed.message}`.replace(' :', ':');
  } catch { /* not a Status */ }
  return new ApiError(status, message);
}

/** Lists the slices: their objects and the list's resourceVersion (where a watch starts). */
export async function listSlices(target: Target, timeoutMs: number): Promise<{ items: unknown[]; resourceVersion: string }> {
  const url = slicesUrl(target.base, {});
  const options = await requestOptions(target, url, timeoutMs);
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; if (body.length > 16 * 1024 * 1024) req.destroy(new Error('the list is over 16 MiB')); });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) { void failure(res.statusCode ?? 0, body).then(reject); return; }
        try {
          const list = JSON.parse(body) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
          resolve({ items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' });
        } catch (error) {
          reject(new Error(`the list is not JSON: ${(error as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}

export interface WatchEvent { type: string; object: Record<string, any> }

export interface WatchOptions {
  resourceVersion: string;
  /** The server ends the watch after this (client-go picks 5–10 minutes). */
  timeoutSeconds: number;
  /** No event, bookmark or end within this: the connection is presumed dead and dropped. */
  stallMs: number;
  /** The API accepted the watch (200): events follow. */
  onOpen(): void;
  onEvent(event: WatchEvent): void;
}

/**
 * Watches the slices from `resourceVersion`, with bookmarks. Resolves when the watch ends (the server's timeout, a
 * closed connection); rejects on an HTTP error or when it stalls. `abort()` ends it at once (resolves).
 */
export function watchSlices(target: Target, options: WatchOptions): { done: Promise<void>; abort(): void } {
  let abort = (): void => undefined;
  const done = (async () => {
    const url = slicesUrl(target.base, { watch: 'true', resourceVersion: options.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(options.timeoutSeconds) });
    const requestOptions_ = await requestOptions(target, url, options.stallMs);
    await new Promise<void>((resolve, reject) => {
      let stallTimer: NodeJS.Timeout | undefined;
      const req = request(requestOptions_, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.on('error', reject);
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => { body += chunk; });
          res.on('end', () => void failure(res.statusCode ?? 0, body).then(reject));
          return;
        }
        options.onOpen();
        const stall = () => {
          clearTimeout(stallTimer);
          stallTimer = setTimeout(() => req.destroy(new Error(`the watch sent nothing for ${options.stallMs / 1000}s`)), options.stallMs);
        };
        stall();
        const lines = createInterface({ input: res });
        lines.on('error', () => undefined); // the response's own error listener below settles it
        lines.on('line', (line) => {
          stall();
          if (line.trim() === '') return;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch {
            return; // a line that is not JSON is not an event
          }
          options.onEvent(event);
        });
        res.on('end', () => { clearTimeout(stallTimer); resolve(); });
        res.on('error', (error) => { clearTimeout(stallTimer); reject(error); });
      });
      abort = () => { clearTimeout(stallTimer); req.destroy(); resolve(); };
      req.on('timeout', () => req.destroy(new Error(`no answer within ${options.stallMs / 1000}s`)));
      req.on('error', (error) => { clearTimeout(stallTimer); reject(error); });
      req.on('close', () => { clearTimeout(stallTimer); resolve(); });
      req.end();
    });
  })();
  return { done, abort: () => abort() };
}
