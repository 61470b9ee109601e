// Pure request parsing for the admin API: routes and bodies in, typed values or an HttpError out.
import type { AdminState } from '../../health/types.js';

export const ADMIN_STATES: readonly AdminState[] = ['ready', 'drain', 'maint'];

/** An answer other than 200, with the JSON error body the API sends. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint?: string;
  readonly headers: Record<string, string | string[]>;
  constructor(status: number, code: string, message: string, options: { hint?: string; headers?: Record<string, string | string[]> } = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.hint = options.hint;
    this.headers = options.headers ?? {};
  }

  body(): { error: { status: number; code: string; message: string; hint?: string } } {
    return { error: { status: this.status, code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) } };
  }
}

export function isAdminState(value: unknown): value is AdminState {
  return typeof value === 'string' && (ADMIN_STATES as readonly string[]).includes(value);
}

/** `{"adminState":"drain"}` → "drain"; anything else → 400 saying what is wrong and what to send. */
export function parseAdminStateBody(text: string): AdminState {
  const example = 'send a JSON body like {"adminState":"drain"} (one of ready, drain, maint)';
  if (text.trim() === '') throw new HttpError(400, 'ADMIN_BAD_REQUEST', 'the request has no body', { hint: example });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'ADMIN_BAD_REQUEST', `the body is not valid JSON: ${(error as Error).message}`, { hint: example });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'ADMIN_BAD_REQUEST', 'the body must be a JSON object', { hint: example });
  const unknown = Object.keys(body).filter((key) => key !== 'adminState');
  if (unknown.length) throw new HttpError(400, 'ADMIN_BAD_REQUEST', `unknown key "${unknown[0]}" in the body`, { hint: example });
  const { adminState } = body as { adminState?: unknown };
  if (adminState === undefined) throw new HttpError(400, 'ADMIN_BAD_REQUEST', '"adminState" is missing', { hint: example });
  // JSON.stringify, never String(): an object such as {"toString":1} cannot be turned into a string.
  if (!isAdminState(adminState)) throw new HttpError(400, 'ADMIN_BAD_REQUEST', `${describeValue(adminState)} is not an admin state`, { hint: 'use one of: ready, drain, maint' });
  return adminState;
}

/** A JSON value as it was sent, cut short: `"paused"`, `{"toString":1}`, `12`. */
function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export type Route =
  | { kind: 'page' }
  | { kind: 'status' }
  | { kind: 'metrics' }
  | { kind: 'favicon' }
  | { kind: 'server-admin-state'; listener: string; server: string }
  | { kind: 'node-admin-state'; node: string };

/** Methods each route answers; anything else is a 405 with this list in Allow. */
export const ROUTE_METHODS: Record<Route['kind'], readonly string[]> = {
  page: ['GET', 'HEAD'],
  status: ['GET', 'HEAD'],
  metrics: ['GET', 'HEAD'],
  favicon: ['GET', 'HEAD'],
  'server-admin-state': ['PUT'],
  'node-admin-state': ['PUT'],
};

export const ROUTE_LIST = 'GET /, GET /api/status, GET /metrics, PUT /api/servers/{listener}/{server}/admin-state, PUT /api/nodes/{node}/admin-state';

/** Maps a path to a route; undefined when there is none (404). Names are percent-decoded. */
export function matchRoute(pathname: string): Route | undefined {
  if (pathname === '/') return { kind: 'page' };
  if (pathname === '/api/status') return { kind: 'status' };
  if (pathname === '/metrics') return { kind: 'metrics' };
  if (pathname === '/favicon.ico') return { kind: 'favicon' };
  const server = /^\/api\/servers\/([^/]+)\/([^/]+)\/admin-state$/.exec(pathname);
  if (server) return { kind: 'server-admin-state', listener: decode(server[1]), server: decode(server[2]) };
  const node = /^\/api\/nodes\/([^/]+)\/admin-state$/.exec(pathname);
  if (node) return { kind: 'node-admin-state', node: decode(node[1]) };
  return undefined;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'ADMIN_BAD_REQUEST', `"${segment}" is not a valid percent-encoded name`);
  }
}
