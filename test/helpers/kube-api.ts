// A stand-in for kube-apiserver's EndpointSlice API (one cluster: one store, one API server per address given) that follows the real list/watch protocol: HTTPS with a CA and a
// bearer token; a list answers the items and the collection's resourceVersion; a watch from a resourceVersion sends
// every change after it as one JSON line each (ADDED / MODIFIED / DELETED with the object's new resourceVersion),
// BOOKMARK events when asked for them (allowWatchBookmarks), ends after timeoutSeconds, and answers a resourceVersion
// older than its history (compact()) with an ERROR event carrying a 410 Expired Status, as the watch cache does.
// A watch without a resourceVersion starts with ADDED for every object. Tests steer it: change the endpoints, compact
// the history, end the watches, go away and come back, or hang (accept, never answer).
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { stringify } from 'yaml';
import { createCa, issueCertificate } from '../../src/tls/certs.js';

const PATH = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
const SELECTOR_LABEL = 'kubernetes.io/service-name';

type Slice = Record<string, any>;
interface Event { rv: number; type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: Slice }

interface Watch { res: ServerResponse; bookmarks: boolean; host: string; selector?: string; timer?: NodeJS.Timeout }

export interface RequestRecord { kind: 'list' | 'watch'; resourceVersion?: string; bookmarks: boolean; timeoutSeconds?: number; at: number; host: string }

export class KubeApiStandIn {
  readonly token = `stand-in-token-${Math.random().toString(36).slice(2)}`;
  readonly requests: RequestRecord[] = [];
  caPem = '';
  port = 0;
  readonly #servers = new Map<string, Server>();
  #tls: { cert: string; key: string } | undefined;
  #rv = 100;
  /** Oldest resourceVersion a watch may start from; older ones get 410. */
  #horizon = 100;
  #history: Event[] = [];
  readonly #slices = new Map<string, Slice>();
  readonly #watches = new Set<Watch>();
  readonly #sockets = new Set<Socket>();
  #hanging = false;
  #bookmarkTimer: NodeJS.Timeout | undefined;

  private constructor(readonly hosts: readonly string[]) {}

  /** API servers on every host, all on one port (0: a free one), serving one store; the certificate names them and `sans`. */
  static async start(hosts: string | string[] = '127.0.0.1', options: { port?: number; sans?: string[]; bookmarkEveryMs?: number } = {}): Promise<KubeApiStandIn> {
    const api = new KubeApiStandIn(Array.isArray(hosts) ? hosts : [hosts]);
    const ca = await createCa('stand-in kube-apiserver CA');
    api.caPem = ca.cert;
    api.#tls = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: [...api.hosts, ...(options.sans ?? []), 'kubernetes', 'kubernetes.default', 'localhost'] });
    api.port = options.port ?? 0;
    for (const host of api.hosts) await api.listen(host);
    // kube-apiserver sends a bookmark on idle watches now and then (about every minute).
    if (options.bookmarkEveryMs) { api.#bookmarkTimer = setInterval(() => api.bookmark(), options.bookmarkEveryMs); api.#bookmarkTimer.unref(); }
    return api;
  }

  get host(): string {
    return this.hosts[0];
  }

  get url(): string {
    return `https://${this.host}:${this.port}`;
  }

  /** The `kubernetes` slice's endpoints (ready unless listed in notReady), on `port`. */
  setEndpoints(addresses: string[], options: { port?: number; notReady?: string[]; name?: string } = {}): void {
    const name = options.name ?? 'kubernetes';
    const existing = this.#slices.get(name);
    const slice: Slice = {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name, namespace: 'default', labels: { [SELECTOR_LABEL]: 'kubernetes' }, resourceVersion: '', uid: `uid-${name}` },
      addressType: 'IPv4',
      endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: !(options.notReady ?? []).includes(address) } })),
      ports: [{ name: 'https', port: options.port ?? 6443, protocol: 'TCP' }],
    };
    this.#emit(existing ? 'MODIFIED' : 'ADDED', slice);
  }

  deleteSlice(name = 'kubernetes'): void {
    const slice = this.#slices.get(name);
    if (slice) this.#emit('DELETED', slice);
  }

  /** Another object that the label selector leaves out (a change to it must not reach the client). */
  setOtherSlice(addresses: string[]): void {
    const slice: Slice = {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'other-abcde', namespace: 'default', labels: { [SELECTOR_LABEL]: 'other' }, resourceVersion: '' },
      addressType: 'IPv4', endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })), ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    };
    this.#emit(this.#slices.has('other-abcde') ? 'MODIFIED' : 'ADDED', slice);
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Forgets the history (etcd compaction): a watch from an older resourceVersion is answered 410 Expired. */
  compact(): void {
    this.#horizon = this.#rv;
    this.#history = [];
  }

  /** A BOOKMARK (the current resourceVersion) on every watch that asked for bookmarks. */
  bookmark(): void {
    for (const watch of this.#watches) {
      if (watch.bookmarks) watch.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(this.#rv) } } })}\n`);
    }
  }

  /** Ends every open watch, as the server does at timeoutSeconds. */
  endWatches(): void {
    for (const watch of [...this.#watches]) this.#endWatch(watch);
  }

  /** API servers go away (every one, or those on `hosts`): listening stops and their connections are reset. */
  async stop(hosts: readonly string[] = this.hosts): Promise<void> {
    for (const host of hosts) {
      const server = this.#servers.get(host);
      this.#servers.delete(host);
      for (const watch of [...this.#watches]) if (watch.host === host) this.#watches.delete(watch);
      for (const socket of this.#sockets) if (socket.localAddress?.replace(/^::ffff:/, '') === host) socket.destroy();
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Back on the same port (every one, or those on `hosts`), with the same objects and history. */
  async restart(hosts: readonly string[] = this.hosts): Promise<void> {
    for (const host of hosts) if (!this.#servers.has(host)) await this.listen(host);
  }

  /** While on, connections are accepted and requests read but never answered (a stuck server). */
  hang(on: boolean): void {
    this.#hanging = on;
  }

  /** Number of watches open now. */
  get openWatches(): number {
    return this.#watches.size;
  }

  /** A kubeconfig for this server (CA, bearer token); `server` overrides the URL (e.g. an address nothing answers on). */
  async writeKubeconfig(path: string, server = this.url): Promise<void> {
    await writeFile(path, stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'stand-in',
      clusters: [{ name: 'stand-in', cluster: { server, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: 'reader', user: { token: this.token } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'reader' } }],
    }), { mode: 0o600 });
  }

  async close(): Promise<void> {
    clearInterval(this.#bookmarkTimer);
    await this.stop();
  }

  private async listen(host: string): Promise<void> {
    const server = createServer({ ...this.#tls! }, (req, res) => this.#handle(host, req, res));
    server.on('connection', (socket: Socket) => { this.#sockets.add(socket); socket.on('close', () => this.#sockets.delete(socket)); });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, host, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#servers.set(host, server);
  }

  #emit(type: Event['type'], object: Slice): void {
    this.#rv++;
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.#rv) } };
    if (type === 'DELETED') this.#slices.delete(stored.metadata.name);
    else this.#slices.set(stored.metadata.name, stored);
    const event: Event = { rv: this.#rv, type, object: stored };
    this.#history.push(event);
    for (const watch of this.#watches) this.#send(watch.res, event, watch.selector);
  }

  #send(res: ServerResponse, event: Event, selector: string | undefined): void {
    if (!matches(event.object, selector)) return;
    res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
  }

  #handle(host: string, req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => undefined); // a client that gives up mid-request
    res.on('error', () => undefined);
    req.resume();
    if (this.#hanging) return; // read, never answered
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/readyz' || url.pathname === '/livez') { res.end('ok'); return; }
    if (url.pathname === '/node') { res.end(host); return; }
    if (req.headers.authorization !== `Bearer ${this.token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (url.pathname !== PATH) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', 'only GET here');
    const selector = url.searchParams.get('labelSelector') ?? undefined;
    const rvText = url.searchParams.get('resourceVersion') ?? undefined;
    const bookmarks = url.searchParams.get('allowWatchBookmarks') === 'true';
    const timeoutText = url.searchParams.get('timeoutSeconds');
    const timeoutSeconds = timeoutText === null ? undefined : Number(timeoutText);
    if (url.searchParams.get('watch') !== 'true' && url.searchParams.get('watch') !== '1') {
      this.requests.push({ kind: 'list', resourceVersion: rvText, bookmarks, at: Date.now(), host });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(this.#rv) }, items: [...this.#slices.values()].filter((s) => matches(s, selector)) }));
      return;
    }
    this.requests.push({ kind: 'watch', resourceVersion: rvText, bookmarks, timeoutSeconds, at: Date.now(), host });
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const watch: Watch = { res, bookmarks, selector, host };
    if (rvText !== undefined && rvText !== '' && rvText !== '0') {
      const from = Number(rvText);
      if (!Number.isInteger(from) || from < this.#horizon) {
        res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rvText} (${this.#horizon})`, reason: 'Expired', code: 410 } })}\n`);
        return;
      }
      for (const event of this.#history) if (event.rv > from) this.#send(res, event, selector);
    } else {
      for (const slice of this.#slices.values()) this.#send(res, { rv: Number(slice.metadata.resourceVersion), type: 'ADDED', object: slice }, selector);
    }
    this.#watches.add(watch);
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) watch.timer = setTimeout(() => this.#endWatch(watch), timeoutSeconds * 1000);
    res.on('close', () => { clearTimeout(watch.timer); this.#watches.delete(watch); });
  }

  #endWatch(watch: Watch): void {
    clearTimeout(watch.timer);
    this.#watches.delete(watch);
    watch.res.end();
  }
}

function matches(object: Slice, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return object.metadata?.labels?.[key] === value;
  });
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}
