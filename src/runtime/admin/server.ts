// The admin surface of the built-in balancer: status page, JSON API, admin-state changes, /metrics.
// Plain node:http. The answers are formatted from one snapshot, at most once a second and in slices, and shared
// by every client (outputs.ts); each client address has at most a few requests in progress; bodies are sent in
// chunks. However hard it is polled, the admin surface never holds up the connections the balancer carries.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../../errors.js';
import type { AdminState } from '../../health/types.js';
import type { Logger } from '../../log.js';
import { joinHostPort } from '../../spec/address.js';
import type { StatusSnapshot } from '../snapshot.js';
import { connectHost } from './address.js';
import { AUTH_CHALLENGES, tokenChecker } from './auth.js';
import { checkHost, checkOrigin } from './guard.js';
import { createAdminMetrics } from './metrics.js';
import { AdminOutputs, type Output, type OutputKind } from './outputs.js';
import { HttpError, matchRoute, parseAdminStateBody, ROUTE_LIST, ROUTE_METHODS, type Route } from './requests.js';
import { STATUS_PAGE_CSP } from './status-page.js';

export interface AdminBackend {
  snapshot(): StatusSnapshot;
  /** Returns how many servers changed; throws UserError('ADMIN_NOT_FOUND') for an unknown server, node or listener. */
  setAdminState(target: { server: string; listener?: string }, state: AdminState): number;
}

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port (tests); the spec always has a fixed one. */
  port: number;
  token?: string;
  backend: AdminBackend;
  logger: Logger;
  /** ADMIN_LIMITS unless a test needs shorter ones. */
  limits?: AdminLimits;
}

export interface AdminLimits {
  /** Connections open at once; a connection beyond it is closed as soon as it is accepted. */
  maxConnections: number;
  /** From the connection's first byte (or its previous request) until every header has arrived. */
  headersTimeoutMs: number;
  /** From the first byte of a request until the whole request, body included, has arrived. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often the timeouts above are enforced (node's connectionsCheckingInterval: 30 s by default). */
  checkEveryMs: number;
  /** Requests of one client address in progress at once; more wait their turn. */
  perClient: number;
  /** Requests of one client address waiting for a turn; more get 429 (ADMIN_BUSY). */
  perClientWaiting: number;
  /**
   * Bytes per second sent to one client address (bursts of as much); a client that polls faster than that is
   * sent its answers more slowly. Prometheus at 1,000 servers takes 2 MiB every 15 s or more.
   */
  perClientBytesPerSecond: number;
}

/**
 * The admin surface answers a handful of operators and one Prometheus: a few connections, small requests.
 * A client that sends nothing, or trickles its headers or body, is cut after 5 s / 10 s (+ up to 1 s), so a
 * slowloris can hold at most maxConnections sockets for that long each. docs/admin-api.md#limits.
 */
export const ADMIN_LIMITS: AdminLimits = Object.freeze({
  maxConnections: 64,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
  checkEveryMs: 1000,
  perClient: 2,
  perClientWaiting: 32,
  perClientBytesPerSecond: 8 * 1024 * 1024,
});

/** Bodies are written this much at a time, letting other sockets' I/O run in between. */
const WRITE_CHUNK_BYTES = 64 * 1024;

/** A dropped-connection line at most this often: a flood of connections is one line, not thousands. */
const DROP_LOG_EVERY_MS = 10_000;

export interface AdminServer {
  readonly url: string;
  /** Something changed that clients must see at once (a reload): the shared answers are made again. */
  invalidate(): void;
  close(): Promise<void>;
}

/** What a successful admin-state change answers. */
export interface AdminStateResult {
  adminState: AdminState;
  /** Servers the target named. */
  matched: number;
  /** Of those, servers whose admin state was different before (0: nothing to do). */
  changed: number;
  servers: Array<{ listener: string; server: string; state: string; adminState: AdminState; activeConnections: number; drainDeadline?: number }>;
}

const MAX_BODY_BYTES = 4096;

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const handler = createAdminHandler(options);
  const limits = options.limits ?? ADMIN_LIMITS;
  const server = createServer({
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkEveryMs,
  }, (req, res) => { void handler(req, res); });
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  let droppedLoggedAt = 0;
  server.on('drop', () => {
    dropped++;
    if (Date.now() - droppedLoggedAt < DROP_LOG_EVERY_MS) return;
    droppedLoggedAt = Date.now();
    options.logger.warn({ event: 'admin-connections-full', maxConnections: limits.maxConnections, dropped }, `admin surface: ${limits.maxConnections} connections open, new ones are closed (${dropped} so far)`);
  });
  // Malformed requests and timeouts before a request is complete: node answers them (400, 408, 431) and logs nothing.
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new UserError('LISTEN', `cannot bind the admin surface on ${joinHostPort(options.host, options.port)}: ${error.code ?? error.message}`, {
        hint: error.code === 'EADDRINUSE' ? 'another process (an old `cluster-endpoint serve`?) uses the port; stop it or change balancer.admin' : 'check balancer.admin in the spec',
        cause: error,
      }));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${joinHostPort(connectHost(options.host), port)}`;
  options.logger.info({ url, token: Boolean(options.token) }, `admin surface on ${url}`);
  let closing: Promise<void> | undefined;
  return {
    url,
    invalidate: () => handler.invalidate(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Browsers keep idle connections open; they carry no work, so close them now.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      return closing;
    },
  };
}

export interface AdminHandler {
  (req: IncomingMessage, res: ServerResponse): Promise<void>;
  invalidate(): void;
}

/** The request handler, separate from listening so its rules read top to bottom. */
export function createAdminHandler(options: AdminServerOptions): AdminHandler {
  const { backend, logger } = options;
  const limits = options.limits ?? ADMIN_LIMITS;
  const authorized = options.token ? tokenChecker(options.token) : undefined;
  const metrics = createAdminMetrics();
  const outputs = new AdminOutputs(backend, metrics);
  const slots = new ClientSlots(limits.perClient, limits.perClientWaiting, limits.perClientBytesPerSecond);
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      checkHost(req.headers.host, options.host, authorized !== undefined);
      if (authorized) {
        if (!authorized(req.headers.authorization)) {
          throw new HttpError(401, 'ADMIN_UNAUTHORIZED', 'this balancer needs the admin token', {
            hint: 'send "Authorization: Bearer <token>" (cluster-endpoint commands: --token or CLUSTER_ENDPOINT_ADMIN_TOKEN)',
            headers: { 'www-authenticate': AUTH_CHALLENGES },
          });
        }
      }
      checkOrigin(req.method ?? 'GET', req.headers.origin, req.headers.host);
      const url = parseTarget(req.url);
      const route = matchRoute(url.pathname);
      if (!route) throw new HttpError(404, 'ADMIN_NOT_FOUND', `no such page: ${url.pathname}`, { hint: `the admin API has ${ROUTE_LIST}` });
      const allowed = ROUTE_METHODS[route.kind];
      const method = req.method ?? 'GET';
      if (!allowed.includes(method)) {
        throw new HttpError(405, 'ADMIN_METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`, { hint: `use ${allowed.join(' or ')}`, headers: { allow: allowed.join(', ') } });
      }
      const client = req.socket.remoteAddress ?? '';
      if (route.kind !== 'favicon') {
        const done = await slots.acquire(client);
        if (res.closed || res.destroyed) done(); // the client left while it waited
        res.once('finish', done);
        res.once('close', done);
      }
      await answer(route, url, req, res, client);
    } catch (error) {
      if (error instanceof ClientGone || res.destroyed) {
        // The client went away (aborted upload, closed tab, timeout): nobody is left to answer.
        logger.debug({ event: 'admin-client-gone', method: req.method, path: req.url, reason: error instanceof Error ? error.message : String(error) }, `admin surface: client left during ${req.method} ${req.url}`);
        res.destroy();
        return;
      }
      sendError(res, toHttpError(error, logger));
    }
  };
  return Object.assign(handler, { invalidate: () => outputs.invalidate() });

  async function answer(route: Route, url: URL, req: IncomingMessage, res: ServerResponse, client: string): Promise<void> {
    switch (route.kind) {
      case 'page': {
        const fragment = url.searchParams.has('fragment');
        await sendOutput(req, res, client, fragment ? 'fragment' : 'page', 'text/html; charset=utf-8', { 'content-security-policy': STATUS_PAGE_CSP });
        return;
      }
      case 'status':
        await sendOutput(req, res, client, 'status', 'application/json; charset=utf-8');
        return;
      case 'metrics':
        await sendOutput(req, res, client, 'metrics', metrics.contentType);
        return;
      case 'favicon':
        res.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
        return;
      case 'server-admin-state':
      case 'node-admin-state': {
        const state = parseAdminStateBody(await readBody(req));
        const target = route.kind === 'node-admin-state' ? { server: route.node } : { server: route.server, listener: route.listener };
        const before = backend.snapshot();
        const matched = setAdminState(target, state);
        outputs.invalidate();
        const result = describeTarget(before, backend.snapshot(), target, state, matched);
        logger.info({ ...target, adminState: state, matched, changed: result.changed, remote: req.socket.remoteAddress }, `admin API: ${target.listener ? `${target.listener}/` : ''}${target.server} admin state ${state} (${result.changed} of ${matched} server(s) changed)`);
        sendJson(res, 200, result);
      }
    }
  }

  /** A shared answer (outputs.ts), gzip-compressed when the client accepts it, written in chunks. */
  async function sendOutput(req: IncomingMessage, res: ServerResponse, client: string, kind: OutputKind, contentType: string, headers: Record<string, string> = {}): Promise<void> {
    const output: Output = await outputs.get(kind);
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && output.body.length > 1024;
    const body = gzip ? await output.gzipped() : output.body;
    if (res.destroyed) throw new ClientGone('closed while its answer was made');
    res.writeHead(200, {
      ...COMMON_HEADERS, ...headers, 'content-type': contentType, 'content-length': body.length, vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    if (req.method === 'HEAD') { res.end(); return; }
    await writeInChunks(res, body, (bytes) => slots.spend(client, bytes));
  }

  function setAdminState(target: { server: string; listener?: string }, state: AdminState): number {
    try {
      return backend.setAdminState(target, state);
    } catch (error) {
      if (error instanceof UserError && error.code === 'ADMIN_NOT_FOUND') {
        throw new HttpError(404, 'ADMIN_NOT_FOUND', error.message, { hint: error.hint ?? knownNames(backend.snapshot(), target.listener) });
      }
      throw error;
    }
  }
}

function describeTarget(before: StatusSnapshot, after: StatusSnapshot, target: { server: string; listener?: string }, adminState: AdminState, matched: number): AdminStateResult {
  const selected = (snapshot: StatusSnapshot) => snapshot.listeners
    .filter((l) => target.listener === undefined || l.name === target.listener)
    .flatMap((l) => l.servers.filter((s) => s.name === target.server && !s.removed).map((s) => ({ listener: l.name, server: s })));
  const previous = new Map(selected(before).map(({ listener, server }) => [listener, server.adminState]));
  const servers = selected(after).map(({ listener, server }) => ({
    listener, server: server.name, state: server.state, adminState: server.adminState, activeConnections: server.activeConnections,
    ...(server.drainDeadline !== undefined ? { drainDeadline: server.drainDeadline } : {}),
  }));
  const changed = servers.filter((s) => previous.get(s.listener) !== adminState).length;
  return { adminState, matched, changed, servers };
}

function knownNames(snapshot: StatusSnapshot, listener?: string): string {
  const listeners = snapshot.listeners.filter((l) => listener === undefined || l.name === listener);
  if (listener !== undefined && listeners.length === 0) return `listeners: ${snapshot.listeners.map((l) => l.name).join(', ') || 'none'}`;
  const names = [...new Set(listeners.flatMap((l) => l.servers.map((s) => s.name)))];
  return `known ${listener === undefined ? 'nodes' : `servers of ${listener}`}: ${names.join(', ') || 'none'}`;
}

/** The request target as a URL; a target no URL parser accepts (`//[`, `http://x:99999/`) is a 400. */
function parseTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://admin.invalid');
  } catch {
    throw new HttpError(400, 'ADMIN_BAD_REQUEST', 'the request target is not a valid path', { hint: `the admin API has ${ROUTE_LIST}` });
  }
}

/**
 * At most `perClient` requests of one client address in progress; up to `waiting` more wait their turn in order,
 * beyond that a 429. One script, dashboard or scraper cannot take the admin surface for itself.
 */
class ClientSlots {
  readonly #perClient: number;
  readonly #waiting: number;
  readonly #bytesPerSecond: number;
  readonly #clients = new Map<string, { running: number; queue: Array<() => void> }>();
  /** Each address's byte budget (a token bucket): what it may still be sent now, as of `at`. */
  readonly #budgets = new Map<string, { bytes: number; at: number }>();

  constructor(perClient: number, waiting: number, bytesPerSecond: number) {
    this.#perClient = perClient;
    this.#waiting = waiting;
    this.#bytesPerSecond = bytesPerSecond;
  }

  /** Takes `bytes` from the client's budget; resolves when they may be sent (at once while it has enough). */
  spend(client: string, bytes: number): Promise<void> | undefined {
    const now = performance.now();
    const rate = this.#bytesPerSecond;
    const budget = this.#budgets.get(client) ?? { bytes: rate, at: now };
    budget.bytes = Math.min(rate, budget.bytes + ((now - budget.at) * rate) / 1000) - bytes;
    budget.at = now;
    if (budget.bytes >= rate) this.#budgets.delete(client);
    else this.#budgets.set(client, budget);
    if (this.#budgets.size > 1024) this.#forgetFull(now);
    if (budget.bytes >= 0) return undefined;
    return new Promise((resolve) => setTimeout(resolve, Math.ceil((-budget.bytes * 1000) / rate)));
  }

  /** Budgets that have refilled are the same as no entry: keep the map small. */
  #forgetFull(now: number): void {
    for (const [client, budget] of this.#budgets) if (budget.bytes + ((now - budget.at) * this.#bytesPerSecond) / 1000 >= this.#bytesPerSecond) this.#budgets.delete(client);
  }

  /** Resolves with a release function (idempotent) once this client may go on. */
  async acquire(client: string): Promise<() => void> {
    let entry = this.#clients.get(client);
    if (!entry) this.#clients.set(client, (entry = { running: 0, queue: [] }));
    if (entry.running >= this.#perClient) {
      if (entry.queue.length >= this.#waiting) {
        throw new HttpError(429, 'ADMIN_BUSY', `this client already has ${entry.running + entry.queue.length} admin requests in progress or waiting`, {
          hint: 'send requests one after another (Retry-After says when to try again)', headers: { 'retry-after': '1' },
        });
      }
      await new Promise<void>((resolve) => entry.queue.push(resolve));
    } else {
      entry.running++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot goes to the next one waiting, or is given back.
      const next = entry.queue.shift();
      if (next) { next(); return; }
      entry.running--;
      if (entry.running === 0) this.#clients.delete(client);
    };
  }
}

/**
 * Writes `body` a chunk at a time, each once `spend` allows it (the client's byte budget); other sockets' I/O runs
 * between chunks (and while the client is slow to read).
 */
async function writeInChunks(res: ServerResponse, body: Buffer, spend: (bytes: number) => Promise<void> | undefined): Promise<void> {
  for (let offset = 0; offset < body.length && !res.destroyed; offset += WRITE_CHUNK_BYTES) {
    const chunk = body.subarray(offset, offset + WRITE_CHUNK_BYTES);
    const wait = spend(chunk.length);
    if (wait) await wait;
    if (res.destroyed) break;
    const more = res.write(chunk);
    await new Promise<void>((resolve) => {
      if (more) { setImmediate(resolve); return; }
      const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  res.end();
}

/** The client closed or reset its connection before the request was complete. */
class ClientGone extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ClientGone';
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  const tooLarge = () => new HttpError(413, 'ADMIN_BAD_REQUEST', `the body is larger than ${MAX_BODY_BYTES} bytes`, { hint: 'send only {"adminState":"..."}' });
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) { chunks.push(chunk); return; }
      // Stop collecting but answer now; the socket closes after the answer (see sendError).
      req.off('data', onData);
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', (error: NodeJS.ErrnoException) => reject(new ClientGone(error.code ?? error.message)));
    // 'close' without 'end': the connection went away mid-body (after 'end' this is a no-op).
    req.once('close', () => { if (!req.complete) reject(new ClientGone('closed before the body was complete')); });
  });
}

function toHttpError(error: unknown, logger: Logger): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof UserError) return new HttpError(error.code === 'ADMIN_NOT_FOUND' ? 404 : 400, error.code, error.message, { hint: error.hint });
  logger.error({ err: error }, 'admin request failed');
  return new HttpError(500, 'ADMIN_INTERNAL', `internal error: ${error instanceof Error ? error.message : String(error)}`);
}

const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { ...COMMON_HEADERS, ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string | string[]> = {}): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`, headers);
}

function sendError(res: ServerResponse, error: HttpError): void {
  // A request we refuse early may still be sending its body; close after answering instead of reading it.
  if (error.status === 413 || error.status === 401) res.shouldKeepAlive = false;
  sendJson(res, error.status, error.body(), error.headers);
}
