// What a simulated control-plane node answers on the Kubernetes port: just enough of kube-apiserver for
// `kubectl get --raw /readyz`, `kubectl version` and discovery, plus the node's name so failover is visible.
// Pure: a request line in, an answer out (node.ts puts it on a socket).
import { joinHostPort } from '../spec/address.js';

/** The Kubernetes version the simulated nodes report (close to a current kubectl, so it prints no skew warning). */
export const SIMULATED_KUBERNETES = { major: '1', minor: '32', patch: '0' } as const;

export interface KubeApiIdentity {
  /** Node name, e.g. cp-01: sent as X-Demo-Node and in /version's gitVersion build metadata. */
  node: string;
  address: string;
  port: number;
}

export interface KubeApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const NODE_HEADER = 'x-demo-node';

/** The health endpoints' named checks, as kube-apiserver lists them with ?verbose (a short subset). */
const CHECKS = {
  livez: ['ping', 'log', 'etcd', 'poststarthook/start-apiserver-admission-initializer'],
  readyz: ['ping', 'log', 'etcd', 'etcd-readiness', 'informer-sync', 'poststarthook/start-apiserver-admission-initializer', 'shutdown'],
  healthz: ['ping', 'log', 'etcd', 'poststarthook/start-apiserver-admission-initializer'],
} as const;

export type HealthEndpoint = keyof typeof CHECKS;

/** Named checks that fail now, per endpoint (rehearse's stand-in: "shutdown" while terminating, "etcd-readiness" when unready). */
export type FailingChecks = Partial<Record<HealthEndpoint, readonly string[]>>;

export function answerKubeApi(identity: KubeApiIdentity, method: string, url: string, failing: FailingChecks = {}): KubeApiAnswer {
  const { pathname, searchParams } = new URL(url, 'https://node.invalid');
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const headers = { 'cache-control': 'no-cache, private', [NODE_HEADER]: identity.node };
  if (method !== 'GET' && method !== 'HEAD') {
    return status(headers, 405, 'MethodNotAllowed', `the simulated node ${identity.node} only answers GET`);
  }
  const [, first, check] = /^\/([a-z]+)(?:\/(.+))?$/.exec(path) ?? [];
  if (first in CHECKS) return health(headers, first as HealthEndpoint, check, searchParams.has('verbose'), failing[first as HealthEndpoint] ?? []);
  switch (path) {
    case '/version':
      return json(headers, 200, versionInfo(identity.node));
    case '/api':
      return json(headers, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: joinHostPort(identity.address, identity.port) }],
      });
    case '/api/v1':
      return json(headers, 200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [] });
    case '/apis':
      return json(headers, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    case '/demo/node':
      return json(headers, 200, { node: identity.node, address: identity.address, port: identity.port });
    default:
      return status(headers, 404, 'NotFound', 'the server could not find the requested resource');
  }
}

/** /version as kube-apiserver sends it; the node name rides in the semver build metadata (v1.32.0+cp-01). */
export function versionInfo(node: string) {
  const { major, minor, patch } = SIMULATED_KUBERNETES;
  return {
    major,
    minor,
    gitVersion: `v${major}.${minor}.${patch}+${node}`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function health(headers: Record<string, string>, endpoint: HealthEndpoint, check: string | undefined, verbose: boolean, failing: readonly string[]): KubeApiAnswer {
  const names: readonly string[] = CHECKS[endpoint];
  const text = { ...headers, 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };
  if (check !== undefined) {
    if (!names.includes(check)) return status(headers, 404, 'NotFound', 'the server could not find the requested resource');
    return failing.includes(check) ? { status: 500, headers: text, body: `internal server error: ${check} check failed\n` } : { status: 200, headers: text, body: 'ok' };
  }
  if (names.some((name) => failing.includes(name))) {
    // kube-apiserver on a failed check: 500, every check listed, the reason withheld (k8s.io/apiserver
    // pkg/server/healthz/healthz.go handleRootHealth: "always be verbose on failure").
    const lines = names.map((name) => (failing.includes(name) ? `[-]${name} failed: reason withheld` : `[+]${name} ok`));
    return { status: 500, headers: text, body: `${lines.join('\n')}\n${endpoint} check failed\n` };
  }
  if (!verbose) return { status: 200, headers: text, body: 'ok' };
  const body = `${names.map((name) => `[+]${name} ok`).join('\n')}\n${endpoint} check passed\n`;
  return { status: 200, headers: text, body };
}

function json(headers: Record<string, string>, code: number, value: unknown): KubeApiAnswer {
  return { status: code, headers: { ...headers, 'content-type': 'application/json' }, body: `${JSON.stringify(value, null, 2)}\n` };
}

function status(headers: Record<string, string>, code: number, reason: string, message: string): KubeApiAnswer {
  return json(headers, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details: {}, code });
}
