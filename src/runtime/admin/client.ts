// The CLI side of the admin API (drain, undrain, status): find the balancer, call it, and turn every
// failure into one UserError line with a fix.
import { existsSync } from 'node:fs';
import { isMap, isScalar, parseDocument } from 'yaml';
import { request } from 'node:http';
import { UserError, type ErrorCode } from '../../errors.js';
import type { AdminState } from '../../health/types.js';
import { readTextFile } from '../../read-file.js';
import { joinHostPort, splitHostPort } from '../../spec/address.js';
import { DEFAULT_BALANCER } from '../../spec/defaults.js';
import { loadSpecFile, SPEC_LIMITS, SpecInvalidError } from '../../spec/load.js';
import { deeperThan } from '../../spec/yaml-depth.js';
import type { StatusSnapshot } from '../snapshot.js';
import { connectHost } from './address.js';
import type { AdminStateResult } from './server.js';

export const DEFAULT_SPEC_FILE = 'endpoint.yaml';
/** Where the .deb and the unit keep the spec (src/render/builtin/systemd.ts SPEC_PATH). */
export const PACKAGED_SPEC_FILE = '/etc/cluster-endpoint/endpoint.yaml';
const TIMEOUT_MS = 5000;

export interface AdminTarget {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8404 */
  url: string;
  token?: string;
}

/** Options shared by every command that talks to a running balancer (status, drain, undrain). */
export interface AdminClientOptions { config?: string; admin?: string; token?: string }

/**
 * Finds the balancer: --admin wins and never needs a spec; else the spec's balancer.admin, the spec being -c,
 * else ./endpoint.yaml, else the packaged /etc/cluster-endpoint/endpoint.yaml; with none of them, the default
 * admin address (127.0.0.1:8404). The token: --token, else the spec's adminToken, else CLUSTER_ENDPOINT_ADMIN_TOKEN.
 * `specFiles` replaces the two places looked in (tests).
 */
export async function resolveAdminTarget(values: AdminClientOptions, env: NodeJS.ProcessEnv = process.env, warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`), specFiles: readonly string[] = [DEFAULT_SPEC_FILE, PACKAGED_SPEC_FILE]): Promise<AdminTarget> {
  const envToken = env.CLUSTER_ENDPOINT_ADMIN_TOKEN || undefined;
  if (values.admin !== undefined) {
    const url = parseAdminUrl(values.admin);
    if (values.token !== undefined || values.config === undefined) return { url, token: values.token ?? envToken };
    // The spec is read for its token only, and only as far as it can be: an operator mid-fix still reaches the balancer.
    let specToken: string | undefined;
    try {
      specToken = (await adminSettings(values.config, () => undefined)).token;
    } catch (error) {
      warn(`warning: ${values.config} cannot be read for balancer.adminToken (${(error as Error).message.split('\n')[0]}); ${envToken ? 'using CLUSTER_ENDPOINT_ADMIN_TOKEN' : 'sending no token'}`);
    }
    return { url, token: specToken ?? envToken };
  }
  const file = values.config ?? specFiles.find((candidate) => existsSync(candidate));
  if (file === undefined) {
    const { host, port } = splitHostPort(DEFAULT_BALANCER.admin)!;
    return { url: `http://${joinHostPort(connectHost(host), port)}`, token: values.token ?? envToken };
  }
  const { host, port, token } = await adminSettings(file, warn);
  return { url: `http://${joinHostPort(connectHost(host), port)}`, token: values.token ?? token ?? envToken };
}

/**
 * balancer.admin and adminToken from the spec. The commands that reach a running balancer are what an
 * operator needs while the file on disk is being fixed, so a spec with problems — even a YAML syntax error
 * elsewhere in the file — only warns, as long as these two settings themselves can be read.
 */
async function adminSettings(file: string, warn: (line: string) => void): Promise<{ host: string; port: number; token?: string }> {
  const result = await loadSpecFile(file);
  if (result.spec) return { ...result.spec.balancer.admin, token: result.spec.balancer.adminToken };
  const errors = result.problems.filter((p) => p.severity === 'error');
  const unreadable = errors.find((p) => p.code === 'SPEC_FILE' || p.code === 'SPEC_LIMIT');
  if (unreadable) throw new SpecInvalidError(file, [unreadable]);
  const settings = await tolerantBalancer(file);
  const admin = settings.admin === undefined
    ? (settings.complete || !settings.mentionsAdmin ? splitHostPort(DEFAULT_BALANCER.admin) : undefined)
    : typeof settings.admin === 'string' ? splitHostPort(settings.admin) : undefined;
  if (!admin || errors.some((p) => p.path.startsWith('balancer.admin'))) {
    const problems = admin ? errors.filter((p) => p.path.startsWith('balancer.admin')) : errors;
    throw new SpecInvalidError(file, problems.length > 0 ? problems : errors);
  }
  warn(`warning: ${file} is not a valid spec (${errors.length} problem(s); run \`cluster-endpoint validate -c ${file}\`); using its balancer.admin ${joinHostPort(admin.host, admin.port)}`);
  return { ...admin, token: typeof settings.adminToken === 'string' ? settings.adminToken : undefined };
}

/**
 * balancer.admin and balancer.adminToken read from a document with errors: the YAML library recovers after a
 * syntax error and keeps what it could read. `complete` is false when the file has syntax errors (what is
 * missing may be in the part it could not read); `mentionsAdmin` says whether an `admin:` key appears at all.
 */
async function tolerantBalancer(file: string): Promise<{ admin?: unknown; adminToken?: unknown; complete: boolean; mentionsAdmin: boolean }> {
  const text = await readTextFile(file, { maxBytes: SPEC_LIMITS.bytes });
  const mentionsAdmin = /(^|[\s{,])["']?admin["']?\s*:/m.test(text);
  if (deeperThan(text, SPEC_LIMITS.depth)) return { complete: false, mentionsAdmin };
  const doc = parseDocument(text, { uniqueKeys: false });
  const balancer = isMap(doc.contents) ? doc.contents.get('balancer', true) : undefined;
  const scalar = (key: string) => {
    const node = isMap(balancer) ? balancer.get(key, true) : undefined;
    return isScalar(node) ? node.value : node === undefined ? undefined : null;
  };
  return { admin: scalar('admin'), adminToken: scalar('adminToken'), complete: doc.errors.length === 0, mentionsAdmin };
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
    hint: `${why}; start it with \`cluster-endpoint serve -c endpoint.yaml\`, or point at it with --admin URL (or -c SPEC for its balancer.admin)`,
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
