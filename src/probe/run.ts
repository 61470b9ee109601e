// Runs every check of a plan concurrently, each bounded by its own timeout.
import { checkKubernetes, type KubernetesResult } from './checks/kubernetes.js';
import { checkTalosVersion, type TalosResult } from './checks/talos.js';
import { checkTcp, type TcpResult } from './checks/tcp.js';
import { checkTls, type TlsResult } from './checks/tls.js';
import type { ClientCredentials } from './credentials.js';
import { targets, type ProbePlan, type ProbeTarget } from './plan.js';

export interface ProbeRow extends ProbeTarget {
  tcp: TcpResult;
  tls?: TlsResult;
  kubernetes?: KubernetesResult;
  /** Present with --talosconfig. */
  talos?: TalosResult;
}

export interface ProbeOptions {
  timeoutMs: number;
  kubeconfig?: ClientCredentials;
  talosconfig?: ClientCredentials;
}

export async function runProbe(plan: ProbePlan, options: ProbeOptions): Promise<ProbeRow[]> {
  return Promise.all(targets(plan).map((target) => probeTarget(target, plan.endpoint, options)));
}

async function probeTarget(target: ProbeTarget, endpoint: string, options: ProbeOptions): Promise<ProbeRow> {
  const { address, port } = target;
  const tcp = await checkTcp(address, port, options.timeoutMs);
  if (!tcp.ok || target.kind === 'tcp') return { ...target, tcp };
  if (target.kind === 'kubernetes') {
    const [tls, kubernetes] = await Promise.all([
      checkTls(address, port, endpoint, options.timeoutMs, options.kubeconfig),
      checkKubernetes(address, port, options.timeoutMs, options.kubeconfig),
    ]);
    return { ...target, tcp, tls, kubernetes };
  }
  const [tls, talos] = await Promise.all([
    checkTls(address, port, endpoint, options.timeoutMs, options.talosconfig),
    options.talosconfig ? checkTalosVersion(address, port, options.timeoutMs, options.talosconfig) : Promise.resolve(undefined),
  ]);
  return { ...target, tcp, tls, ...(talos ? { talos } : {}) };
}
