// The CLI side of the admin API (drain, undrain, status): find the balancer, call it, and turn every
// failure into one UserError line with a fix.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { request } from 'node:http';
import { UserError, type ErrorCode } from '../../errors.js';
import type { AdminState } from '../../health/types.js';
import { joinHostPort, splitHostPort } from '../../spec/address.js';
import { DEFAULT_BALANCER } from '../../spec/defaults.js';
import { loadSpecFile, SPEC_LIMITS, SpecInvalidError } from '../../spec/load.js';
import type { StatusSnapshot } from '../snapshot.js';
import { connectHost } from './address.js';
import type { AdminStateResult } from './server.js';

export const DEFAULT_SPEC_FILE = 'endpoint.yaml';
const TIMEOUT_MS = 5000;

export interface AdminTarget {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8404 */
  url: string;
  token?: string;
}

/** Options shared by every command that talks to a running balancer (status, drain, undrain). */
export interface AdminClientOptions { config?: string; admin?: string; token?: string }

/**
 * --admin wins over the spec; without it the spec (-c, default ./endpoint.yaml) gives balancer.admin.
 * The token: --token, else the spec's adminToken, else CLUSTER_ENDPOINT_ADMIN_TOKEN.
 */
export async function resolveAdminTarget(values: AdminClientOptions, env: NodeJS.ProcessEnv = process.env, warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<AdminTarget> {
  const envToken = env.CLUSTER_ENDPOINT_ADMIN_TOKEN || undefined;
  if (values.admin !== undefined) {
    const specToken = values.config !== undefined ? (await adminSettings(values.config, warn)).token : undefined;
    return { url: parseAdminUrl(values.admin), token: values.token ?? specToken ?? envToken };
  }
  const file = values.config ?? DEFAULT_SPEC_FILE;
  if (values.config === undefined && !existsSync(file)) {
    throw new UserError('SPEC_FILE', `no ${DEFAULT_SPEC_FILE} here to find the balancer's admin address in`, {
      hint: 'pass the spec with -c FILE, or the admin address with --admin http://127.0.0.1:8404',
    });
  }
  const { host, port, token } = await adminSettings(file, warn);
  return { url: `http://${joinHostPort(connectHost(host), port)}`, token: values.token ?? token ?? envToken };
}

/**
 * balancer.admin and adminToken from the spec. The commands that reach a running balancer are what an
 * operator needs while the file on disk is being fixed, so an invalid spec only warns, as long as
 * these two settings themselves can be read.
 */
async function adminSettings(file: string, warn: (line: string) => void): Promise<{ host: string; port: number; token?: string }> {
  const result = await loadSpecFile(file);
  if (result.spec) return { ...result.spec.balancer.admin, token: result.spec.balancer.adminToken };
  const errors = result.problems.filter((p) => p.severity === 'error');
  let balancer: { admin?: unknown; adminToken?: unknown } | undefined;
  try {
    const text = await readFile(file, 'utf8');
    if (Buffer.byteLength(text) <= SPEC_LIMITS.bytes) {
      const raw = parse(text, { maxAliasCount: SPEC_LIMITS.aliases }) as { balancer?: { admin?: unknown; adminToken?: unknown } } | null;
      balancer = typeof raw?.balancer === 'object' && raw.balancer !== null ? raw.balancer : {};
    }
  } catch {
    balancer = undefined;
  }
  const admin = balancer === undefined ? undefined : balancer.admin === undefined ? splitHostPort(DEFAULT_BALANCER.admin) : typeof balancer.admin === 'string' ? splitHostPort(balancer.admin) : undefined;
  const token = typeof balancer?.adminToken === 'string' ? balancer.adminToken : undefined;
  if (!admin || errors.some((p) => p.path.startsWith('balancer.admin'))) throw new SpecInvalidError(file, result.problems);
  warn(`warning: ${file} is not a valid spec (${errors.length} problem(s); run \`cluster-endpoint validate -c ${file}\`); using its balancer.admin ${joinHostPort(admin.host, admin.port)}`);
  return { ...admin, token };
}

/** "http://127.0.0.1:8404/", "127.0.0.1:8404" or "[::1]:8404" → "http://127.0.0.1:8404". */
export function parseAdminUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UserError('USAGE', `--admin "${text}" is not an address`, { hint: 'use the form http://127.0.0.1:8404' });
  }
  if (url.protocol !== 'http:') throw new UserError('USAGE', `--admin "${text}" must use http:// (the admin surface does not speak TLS)`, { hint: 'use the form http://127.0.0.1:8404' });
  if (!url.port) throw new UserError('USAGE', `--admin "${text}" has no port`, { hint: 'use the form http://127.0.0.1:8404' });
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

export async function fetchStatus(target: AdminTarget): Promise<StatusSnapshot> {
  return adminRequest<StatusSnapshot>(target, 'GET', '/api/status');
}

/** Sets the admin state of a node on every listener, or of one server when listener is given. */
export async function putAdminState(target: AdminTarget, node: string, state: AdminState, listener?: string): Promise<AdminStateResult> {
  const path = listener === undefined
    ? `/api/nodes/${encodeURIComponent(node)}/admin-state`
    : `/api/servers/${encodeURIComponent(listener)}/${encodeURIComponent(node)}/admin-state`;
  return adminRequest<AdminStateResult>(target, 'PUT', path, { adminState: state });
}

interface ErrorBody { error?: { code?: string; message?: string; hint?: string } }

interface HttpAnswer { status: number; contentType: string; text: string }

export async function adminRequest<T>(target: AdminTarget, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const answer = await send(target.url, path, method, headers, payload);
  const json = parseJson(answer.text);
  if (answer.status >= 200 && answer.status < 300) {
    if (json === undefined) throw new UserError('ADMIN_UNREACHABLE', `${target.url} answered, but not as a cluster-endpoint admin API (HTTP ${answer.status}, ${answer.contentType || 'no content type'})`, { hint: 'check the admin address (balancer.admin or --admin)' });
    return json as T;
  }
  const error = (json as ErrorBody | undefined)?.error;
  const message = error?.message ?? `HTTP ${answer.status} from ${target.url}${path}`;
  if (answer.status === 401 || answer.status === 403) {
    throw new UserError('ADMIN_UNAUTHORIZED', target.token ? `the balancer on ${target.url} refused the token: ${message}` : `the balancer on ${target.url} needs the admin token`, {
      hint: error?.code === 'ADMIN_FORBIDDEN_HOST' ? error.hint : 'pass --token TOKEN, or set CLUSTER_ENDPOINT_ADMIN_TOKEN or balancer.adminToken in the spec',
    });
  }
  const code: ErrorCode = answer.status === 404 ? 'ADMIN_NOT_FOUND' : answer.status < 500 ? 'USAGE' : 'ADMIN_UNREACHABLE';
  throw new UserError(code, message, { hint: error?.hint });
}

/** One HTTP exchange with node:http (fetch refuses some ports, e.g. 6000, that a spec may use). */
function send(base: string, path: string, method: string, headers: Record<string, string>, payload: string | undefined): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => reject(unreachable(base, error)));
    });
    req.on('timeout', () => {
      req.destroy();
      reject(new UserError('ADMIN_UNREACHABLE', `the balancer on ${base} did not answer within ${TIMEOUT_MS / 1000}s`, { hint: 'check that `cluster-endpoint serve` is running and not stuck, and the admin address' }));
    });
    req.on('error', (error) => reject(unreachable(base, error)));
    req.end(payload);
  });
}

function unreachable(url: string, error: Error): UserError {
  const why = (error as NodeJS.ErrnoException).code ?? error.message;
  return new UserError('ADMIN_UNREACHABLE', `no balancer answers on ${url}; is \`cluster-endpoint serve\` running?`, {
    hint: `${why}; start it with \`cluster-endpoint serve -c endpoint.yaml\`, or point at it with --admin URL`,
    cause: error,
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
