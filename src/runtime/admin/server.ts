// The admin surface of the built-in balancer: status page, JSON API, admin-state changes, /metrics.
// Plain node:http. Every answer is formatted from one snapshot taken for that request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { UserError } from '../../errors.js';
import type { AdminState } from '../../health/types.js';
import type { Logger } from '../../log.js';
import { isLoopback, joinHostPort } from '../../spec/address.js';
import type { StatusSnapshot } from '../snapshot.js';
import { connectHost } from './address.js';
import { AUTH_CHALLENGES, tokenChecker } from './auth.js';
import { createAdminMetrics } from './metrics.js';
import { HttpError, matchRoute, parseAdminStateBody, ROUTE_LIST, ROUTE_METHODS, type Route } from './requests.js';
import { renderStatusBody, renderStatusPage, STATUS_PAGE_CSP } from './status-page.js';

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
});

/** A dropped-connection line at most this often: a flood of connections is one line, not thousands. */
const DROP_LOG_EVERY_MS = 10_000;

export interface AdminServer {
  readonly url: string;
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

/** The request handler, separate from listening so its rules read top to bottom. */
export function createAdminHandler(options: AdminServerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { backend, logger } = options;
  const authorized = options.token ? tokenChecker(options.token) : undefined;
  const metrics = createAdminMetrics();
  return async (req, res) => {
    try {
      if (authorized) {
        if (!authorized(req.headers.authorization)) {
          throw new HttpError(401, 'ADMIN_UNAUTHORIZED', 'this balancer needs the admin token', {
            hint: 'send "Authorization: Bearer <token>" (cluster-endpoint commands: --token or CLUSTER_ENDPOINT_ADMIN_TOKEN)',
            headers: { 'www-authenticate': AUTH_CHALLENGES },
          });
        }
      } else {
        checkHost(req.headers.host, options.host);
      }
      const url = parseTarget(req.url);
      const route = matchRoute(url.pathname);
      if (!route) throw new HttpError(404, 'ADMIN_NOT_FOUND', `no such page: ${url.pathname}`, { hint: `the admin API has ${ROUTE_LIST}` });
      const allowed = ROUTE_METHODS[route.kind];
      const method = req.method ?? 'GET';
      if (!allowed.includes(method)) {
        throw new HttpError(405, 'ADMIN_METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`, { hint: `use ${allowed.join(' or ')}`, headers: { allow: allowed.join(', ') } });
      }
      await answer(route, url, req, res);
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

  async function answer(route: Route, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (route.kind) {
      case 'page': {
        const snapshot = backend.snapshot();
        const fragment = url.searchParams.has('fragment');
        send(res, 200, 'text/html; charset=utf-8', fragment ? renderStatusBody(snapshot) : renderStatusPage(snapshot), { 'content-security-policy': STATUS_PAGE_CSP });
        return;
      }
      case 'status':
        sendJson(res, 200, backend.snapshot());
        return;
      case 'metrics':
        send(res, 200, metrics.contentType, await metrics.scrape(backend.snapshot()));
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
        const result = describeTarget(before, backend.snapshot(), target, state, matched);
        logger.info({ ...target, adminState: state, matched, changed: result.changed, remote: req.socket.remoteAddress }, `admin API: ${target.listener ? `${target.listener}/` : ''}${target.server} admin state ${state} (${result.changed} of ${matched} server(s) changed)`);
        sendJson(res, 200, result);
      }
    }
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

/**
 * Without a token the surface trusts loopback clients, so a web page whose DNS name was re-pointed
 * at 127.0.0.1 (DNS rebinding) must not be able to use it: only IP literals, localhost and the
 * configured host are accepted in the Host header.
 */
function checkHost(hostHeader: string | undefined, bindHost: string): void {
  if (!hostHeader) return;
  const hostname = hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : hostHeader.replace(/:\d+$/, '');
  if (hostname === bindHost || isLoopback(hostname) || isIP(hostname) !== 0) return;
  throw new HttpError(403, 'ADMIN_FORBIDDEN_HOST', `Host "${hostname}" is not accepted without a token`, {
    hint: 'open the admin surface by IP address or localhost, or set balancer.adminToken',
  });
}

/** The request target as a URL; a target no URL parser accepts (`//[`, `http://x:99999/`) is a 400. */
function parseTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://admin.invalid');
  } catch {
    throw new HttpError(400, 'ADMIN_BAD_REQUEST', 'the request target is not a valid path', { hint: `the admin API has ${ROUTE_LIST}` });
  }
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
