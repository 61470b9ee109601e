// Starts the demo in one process: three simulated control-plane nodes and the real balancer (startDaemon)
// in front of them, with a throw-away CA, endpoint.yaml and a kubeconfig in a directory.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { startDaemon, type Daemon } from '../runtime/daemon.js';
import { parseSpec } from '../spec/load.js';
import { formatProblem } from '../spec/problem.js';
import { demoKubeconfig, demoSpecYaml, planLayout, type DemoLayout } from './layout.js';
import { SimulatedNode } from './node.js';
import { joinHostPort } from '../spec/address.js';

export interface DemoOptions {
  /** Directory for endpoint.yaml, ca.crt and kubeconfig; default a new temporary directory, removed on close. */
  dir?: string;
  /** Use free ports instead of 6443, 50000 and 8404 (tests, or a machine that runs a real cluster). */
  freePorts?: boolean;
  /** Every node on 127.0.0.1 with ports of its own, even where 127.0.0.31-33 exist (what macOS gets by itself). */
  singleAddress?: boolean;
  logger?: Logger;
}

export interface Demo {
  readonly layout: DemoLayout;
  readonly dir: string;
  readonly specPath: string;
  readonly kubeconfigPath: string;
  readonly caPath: string;
  readonly nodes: readonly SimulatedNode[];
  readonly daemon: Daemon;
  readonly adminUrl: string;
  /** https://127.0.0.1:6443 — the Kubernetes listener of the balancer. */
  readonly kubernetesUrl: string;
  findNode(name: string): SimulatedNode | undefined;
  close(): Promise<void>;
}

/** Validity of the demo's throw-away certificates (the CA gets a day more than the nodes). */
export const CERTIFICATE_DAYS = 365;

/** Time close() gives the balancer to drain before it destroys what is left. */
const CLOSE_GRACE_MS = 3000;

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const layout = await planLayout({ freePorts: options.freePorts, singleAddress: options.singleAddress });
  const ownDir = options.dir === undefined;
  const dir = options.dir === undefined ? await mkdtemp(join(tmpdir(), 'cluster-endpoint-demo-')) : resolve(options.dir);
  if (!ownDir) await mkdir(dir, { recursive: true });
  const specPath = join(dir, 'endpoint.yaml');
  const kubeconfigPath = join(dir, 'kubeconfig');
  const caPath = join(dir, 'ca.crt');

  // Long enough that `probe` against the demo prints no expiry warning (it warns under 30 days left).
  const { createCa, issueCertificate } = await loadCertificates();
  const ca = await createCa('cluster-endpoint demo CA', CERTIFICATE_DAYS + 1);
  const specText = demoSpecYaml(layout, caPath);
  const parsed = parseSpec(specText, specPath);
  if (!parsed.spec) {
    // A bug in demoSpecYaml, not a user mistake: say exactly what is wrong.
    throw new Error(`the demo wrote an invalid spec:\n${parsed.problems.map((p) => formatProblem(p, specPath)).join('\n')}`);
  }
  await writeFile(caPath, ca.cert);
  await writeFile(specPath, specText);
  await writeFile(kubeconfigPath, demoKubeconfig(layout, caPath), { mode: 0o600 });

  const nodes: SimulatedNode[] = [];
  for (const plan of layout.nodes) {
    // The balancer passes TLS through, so kubectl sees the node's certificate: it must name the endpoint too.
    const sans = [...new Set([layout.endpoint, 'localhost', '::1', plan.address, plan.name, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'])];
    const pair = await issueCertificate(ca, { commonName: plan.name, sans, days: CERTIFICATE_DAYS });
    nodes.push(new SimulatedNode({ ...plan, cert: pair.cert, key: pair.key }));
  }

  let daemon: Daemon | undefined;
  try {
    for (const node of nodes) await node.start();
    daemon = await startDaemon({ specPath, ...(options.logger ? { logger: options.logger } : {}) });
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const running = daemon;
  let closing: Promise<void> | undefined;
  return {
    layout, dir, specPath, kubeconfigPath, caPath, nodes,
    daemon: running,
    adminUrl: running.adminUrl,
    kubernetesUrl: `https://${joinHostPort(layout.endpoint, layout.kubernetesPort)}`,
    findNode: (name) => nodes.find((n) => n.name === name),
    close() {
      closing ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const graceful = running.close().then(() => true, () => false);
        const expired = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), CLOSE_GRACE_MS); });
        if (!(await Promise.race([graceful, expired]))) await running.destroy().catch(() => undefined);
        clearTimeout(timer);
        await Promise.all(nodes.map((n) => n.stop()));
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

/**
 * The certificate library is an optional dependency: only the demo (and the tests) make certificates, so an LB
 * host installed with `npm install --omit=optional` does without it.
 */
async function loadCertificates(): Promise<typeof import('../tls/certs.js')> {
  try {
    return await import('../tls/certs.js');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new UserError('USAGE', 'the demo needs @peculiar/x509 and reflect-metadata to make its certificates, and they are not installed', {
      hint: 'install them (npm install @peculiar/x509 reflect-metadata), or install cluster-endpoint without --omit=optional',
      cause: error,
    });
  }
}
