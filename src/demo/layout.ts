// The demo's layout (which addresses and ports the simulated nodes, the balancer and the admin page use)
// and the files derived from it: endpoint.yaml and a kubeconfig. Only planLayout touches sockets.
import { stringify } from 'yaml';
import { joinHostPort } from '../spec/address.js';
import { canBindAll, pickPort } from './ports.js';

export const DEMO_ENDPOINT = '127.0.0.1';
export const DEMO_NODE_NAMES = ['cp-01', 'cp-02', 'cp-03'] as const;
/** Loopback aliases for the nodes; on Linux all of 127/8 is local, so no root and no setup is needed. */
export const DEMO_NODE_ADDRESSES = ['127.0.0.31', '127.0.0.32', '127.0.0.33'] as const;
export const PREFERRED_PORTS = { kubernetes: 6443, talos: 50000, admin: 8404 } as const;

/** aliases: one loopback address per node, same ports; ports: every node on 127.0.0.1 with its own ports. */
export type NodeAddressing = 'aliases' | 'ports';

export interface DemoNodePlan {
  name: string;
  address: string;
  kubernetesPort: number;
  talosPort: number;
}

export interface DemoLayout {
  addressing: NodeAddressing;
  endpoint: string;
  kubernetesPort: number;
  talosPort: number;
  adminPort: number;
  nodes: DemoNodePlan[];
  /** What differs from the defaults and why ("6443 is in use: the kubernetes listener uses 40123"). */
  notes: string[];
}

/**
 * Chooses addresses and ports: the preferred ports where they are free (unless `freePorts`), free ones
 * otherwise. Ports are only probed, so another program may still take one before the demo binds it.
 */
export async function planLayout(options: { freePorts?: boolean } = {}): Promise<DemoLayout> {
  const notes: string[] = [];
  const prefer = (port: number) => (options.freePorts ? undefined : port);
  const taken = new Set<number>();
  const take = async (hosts: readonly string[], preferred: number, what: string): Promise<number> => {
    const port = await pickPort(hosts, prefer(preferred), taken);
    taken.add(port);
    if (!options.freePorts && port !== preferred) notes.push(`${what}: ${preferred} is in use here, using ${port}`);
    return port;
  };
  const kubernetesPort = await take([DEMO_ENDPOINT], PREFERRED_PORTS.kubernetes, 'kubernetes listener');
  const talosPort = await take([DEMO_ENDPOINT], PREFERRED_PORTS.talos, 'talos listener');
  const adminPort = await take([DEMO_ENDPOINT], PREFERRED_PORTS.admin, 'status page');
  if (await canBindAll(DEMO_NODE_ADDRESSES)) {
    // Node ports may equal the balancer's: a different local address, so no conflict.
    const nodeKubernetes = await pickPort(DEMO_NODE_ADDRESSES, prefer(PREFERRED_PORTS.kubernetes));
    const nodeTalos = await pickPort(DEMO_NODE_ADDRESSES, prefer(PREFERRED_PORTS.talos), new Set([nodeKubernetes]));
    const nodes = DEMO_NODE_NAMES.map((name, i) => ({ name, address: DEMO_NODE_ADDRESSES[i], kubernetesPort: nodeKubernetes, talosPort: nodeTalos }));
    return { addressing: 'aliases', endpoint: DEMO_ENDPOINT, kubernetesPort, talosPort, adminPort, nodes, notes };
  }
  notes.push(`${DEMO_NODE_ADDRESSES.join(', ')} cannot be bound here (only 127.0.0.1 is configured): the nodes use distinct ports on 127.0.0.1`);
  const nodes: DemoNodePlan[] = [];
  for (const name of DEMO_NODE_NAMES) {
    const nodeKubernetes = await pickPort([DEMO_ENDPOINT], undefined, taken);
    taken.add(nodeKubernetes);
    const nodeTalos = await pickPort([DEMO_ENDPOINT], undefined, taken);
    taken.add(nodeTalos);
    nodes.push({ name, address: DEMO_ENDPOINT, kubernetesPort: nodeKubernetes, talosPort: nodeTalos });
  }
  return { addressing: 'ports', endpoint: DEMO_ENDPOINT, kubernetesPort, talosPort, adminPort, nodes, notes };
}

/** Health checks fast enough that a failover shows within about a second and a half. */
const DEMO_CHECK_TIMING = { interval: '1s', fastInterval: '500ms', timeout: '800ms', healthyThreshold: 2, unhealthyThreshold: 2 } as const;

/** endpoint.yaml for the demo (valid per `cluster-endpoint validate`). */
export function demoSpecYaml(layout: DemoLayout, caPath: string): string {
  const perNodePorts = layout.addressing === 'ports';
  const spec = {
    cluster: { name: 'demo' },
    endpoint: layout.endpoint,
    controlPlane: layout.nodes.map((n) => ({
      name: n.name,
      address: n.address,
      ...(perNodePorts ? { ports: { kubernetes: n.kubernetesPort, talos: n.talosPort } } : {}),
    })),
    listeners: [
      {
        name: 'kubernetes', port: layout.kubernetesPort, targetPort: layout.nodes[0].kubernetesPort, targets: 'controlPlane',
        healthCheck: { type: 'https', path: '/readyz', ...DEMO_CHECK_TIMING, caFile: caPath },
      },
      {
        name: 'talos', port: layout.talosPort, targetPort: layout.nodes[0].talosPort, targets: 'controlPlane',
        healthCheck: { type: 'tls', ...DEMO_CHECK_TIMING, caFile: caPath },
      },
    ],
    deregistrationDelay: '2s',
    balancer: {
      bind: layout.endpoint,
      admin: joinHostPort(layout.endpoint, layout.adminPort),
      connectTimeout: '1s',
      watch: true,
    },
  };
  const header = [
    '# Written by `cluster-endpoint demo`: the real balancer in front of three simulated control-plane nodes.',
    '# Check it with `cluster-endpoint validate -c <this file>`; edits are picked up while the demo runs (watch: true).',
  ].join('\n');
  return `${header}\n${stringify(spec, { flowCollectionPadding: true })}`;
}

/** A kubeconfig that reaches the simulated cluster through the balancer and verifies the nodes' certificates. */
export function demoKubeconfig(layout: DemoLayout, caPath: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'demo', cluster: { server: `https://${joinHostPort(layout.endpoint, layout.kubernetesPort)}`, 'certificate-authority': caPath } }],
    // The simulated nodes accept any request; kubectl just needs some credential to send.
    users: [{ name: 'demo', user: { token: 'cluster-endpoint-demo' } }],
    contexts: [{ name: 'demo', context: { cluster: 'demo', user: 'demo' } }],
    'current-context': 'demo',
  });
}
