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

export interface DemoNodePlan {
  name: string;
  address: string;
  kubernetesPort: number;
  talosPort: number;
}

export interface DemoLayout {
  endpoint: string;
  kubernetesPort: number;
  talosPort: number;
  adminPort: number;
  nodes: DemoNodePlan[];
  /** True when every node is on 127.0.0.1 with ports of its own (the spec's node `ports` overrides). */
  singleAddress: boolean;
  /** What differs from the defaults and why ("talos listener: 50000 is in use here, using 40123"). */
  notes: string[];
}

export interface PlanOptions {
  freePorts?: boolean;
  nodeAddresses?: readonly string[];
  /** Put every node on 127.0.0.1 with ports of its own even where the aliases exist (--single-address). */
  singleAddress?: boolean;
}

/**
 * Chooses addresses and ports: a loopback alias per node where they can be bound, else 127.0.0.1 for every
 * node with distinct ports; the preferred ports where they are free (unless `freePorts`), free ones
 * otherwise. Ports are only probed, so another program may still take one before the demo binds it.
 */
export async function planLayout(options: PlanOptions = {}): Promise<DemoLayout> {
  const nodeAddresses = options.nodeAddresses ?? DEMO_NODE_ADDRESSES;
  const notes: string[] = [];
  let singleAddress = options.singleAddress === true;
  if (singleAddress) {
    notes.push(`--single-address: the nodes share ${DEMO_ENDPOINT} on ports of their own (controlPlane[].ports in endpoint.yaml)`);
  } else if (!(await canBindAll(nodeAddresses))) {
    // macOS has only 127.0.0.1 until told otherwise; node `ports` overrides let three nodes share it.
    singleAddress = true;
    notes.push(`this machine cannot bind ${nodeAddresses.join(', ')}, so the nodes share ${DEMO_ENDPOINT} on ports of their own (controlPlane[].ports in endpoint.yaml); ${aliasHint(nodeAddresses)} to give each node its own address`);
  }
  const prefer = (port: number) => (options.freePorts ? undefined : port);
  const taken = new Set<number>();
  const take = async (preferred: number, what: string): Promise<number> => {
    const port = await pickPort([DEMO_ENDPOINT], prefer(preferred), taken);
    taken.add(port);
    if (!options.freePorts && port !== preferred) notes.push(`${what}: ${preferred} is in use here, using ${port}`);
    return port;
  };
  const kubernetesPort = await take(PREFERRED_PORTS.kubernetes, 'kubernetes listener');
  const talosPort = await take(PREFERRED_PORTS.talos, 'talos listener');
  const adminPort = await take(PREFERRED_PORTS.admin, 'status page');
  const nameOf = (i: number) => DEMO_NODE_NAMES[i] ?? `cp-${String(i + 1).padStart(2, '0')}`;
  if (singleAddress) {
    // One address: every node needs free ports of its own, apart from the balancer's.
    const nodes: DemoNodePlan[] = [];
    for (let i = 0; i < nodeAddresses.length; i++) {
      const nodeKubernetes = await pickPort([DEMO_ENDPOINT], undefined, taken);
      taken.add(nodeKubernetes);
      const nodeTalos = await pickPort([DEMO_ENDPOINT], undefined, taken);
      taken.add(nodeTalos);
      nodes.push({ name: nameOf(i), address: DEMO_ENDPOINT, kubernetesPort: nodeKubernetes, talosPort: nodeTalos });
    }
    return { endpoint: DEMO_ENDPOINT, kubernetesPort, talosPort, adminPort, nodes, singleAddress, notes };
  }
  // Node ports may equal the balancer's: a different local address, so no conflict.
  const nodeKubernetes = await pickPort(nodeAddresses, prefer(PREFERRED_PORTS.kubernetes));
  const nodeTalos = await pickPort(nodeAddresses, prefer(PREFERRED_PORTS.talos), new Set([nodeKubernetes]));
  for (const [what, preferred, port] of [['kubernetes', PREFERRED_PORTS.kubernetes, nodeKubernetes], ['talos', PREFERRED_PORTS.talos, nodeTalos]] as const) {
    if (!options.freePorts && port !== preferred) notes.push(`nodes' ${what} port: ${preferred} is in use on ${nodeAddresses.join(', ')}, using ${port}`);
  }
  const nodes = nodeAddresses.map((address, i) => ({ name: nameOf(i), address, kubernetesPort: nodeKubernetes, talosPort: nodeTalos }));
  return { endpoint: DEMO_ENDPOINT, kubernetesPort, talosPort, adminPort, nodes, singleAddress, notes };
}

function aliasHint(addresses: readonly string[]): string {
  return process.platform === 'darwin'
    ? `add them (until reboot) with ${addresses.map((a) => `sudo ifconfig lo0 alias ${a} up`).join('; ')}`
    : `add them with ${addresses.map((a) => `sudo ip addr add ${a}/32 dev lo`).join('; ')}`;
}

/** Health checks fast enough that a failover shows within about a second and a half. */
const DEMO_CHECK_TIMING = { interval: '1s', fastInterval: '500ms', timeout: '800ms', healthyThreshold: 2, unhealthyThreshold: 2 } as const;

/** endpoint.yaml for the demo (valid per `cluster-endpoint validate`). */
export function demoSpecYaml(layout: DemoLayout, caPath: string): string {
  const spec = {
    cluster: { name: 'demo' },
    endpoint: layout.endpoint,
    // A node whose ports differ from the listener's targetPort (all but the first on one address) says so.
    controlPlane: layout.nodes.map((n) => ({ name: n.name, address: n.address, ...nodePorts(layout, n) })),
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
      // Plenty for a demo, and within the smallest common descriptor limit (1024): no warning about it.
      maxConnections: 200,
      watch: true,
    },
  };
  const header = [
    '# Written by `cluster-endpoint demo`: the real balancer in front of three simulated control-plane nodes.',
    '# Check it with `cluster-endpoint validate -c <this file>`; edits are picked up while the demo runs (watch: true).',
  ].join('\n');
  return `${header}\n${stringify(spec, { flowCollectionPadding: true })}`;
}

function nodePorts(layout: DemoLayout, node: DemoNodePlan): { ports?: Record<string, number> } {
  const [first] = layout.nodes;
  const ports: Record<string, number> = {};
  if (node.kubernetesPort !== first.kubernetesPort) ports.kubernetes = node.kubernetesPort;
  if (node.talosPort !== first.talosPort) ports.talos = node.talosPort;
  return Object.keys(ports).length > 0 ? { ports } : {};
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
