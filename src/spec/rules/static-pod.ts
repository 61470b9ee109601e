import { sameHost, splitHostPort } from '../address.js';
import { DEFAULT_BALANCER, DEFAULT_LISTENERS } from '../defaults.js';
import type { Problem } from '../problem.js';
import { entries, list, record, text, type Rule } from './rule.js';

/**
 * Ports a control-plane node's own services hold on every address (or on loopback): kube-apiserver's is the
 * kubernetes listener's targetPort, the rest are fixed. What serve binds on a node must stay clear of them.
 */
export const NODE_PORTS: ReadonlyArray<{ port: number; owner: string }> = [
  { port: 2379, owner: 'etcd (client)' },
  { port: 2380, owner: 'etcd (peer)' },
  { port: 10249, owner: 'kube-proxy (metrics)' },
  { port: 10250, owner: 'the kubelet' },
  { port: 10256, owner: 'kube-proxy (health)' },
  { port: 10257, owner: 'kube-controller-manager' },
  { port: 10259, owner: 'kube-scheduler' },
  { port: 50000, owner: 'Talos apid' },
  { port: 50001, owner: 'Talos trustd' },
];

const KERNEL_HINT = 'set balancer.mode: kernel and balancer.bind to the vip.address (or, with bgp, the endpoint): the kernel redirects VIP:6443 to the API servers before any socket on the node sees it (docs/control-plane-nodes.md)';

/**
 * serve on the control-plane nodes (staticPod): kube-apiserver holds its port on every address of the node,
 * so only the kernel data plane bound to a floating address can take the endpoint's port there; every node
 * must find itself among the VIP peers; and the spec file that travels to the nodes must carry what the
 * environment would otherwise give it.
 */
export const staticPod: Rule = {
  id: 'static-pod',
  check(raw) {
    if (raw.staticPod === undefined) return [];
    const problems: Problem[] = [];
    const balancer = record(raw.balancer);
    const vip = record(raw.vip);
    const vipAddress = text(vip.address);
    const floating = vipAddress ?? (raw.bgp !== undefined ? text(raw.endpoint) : undefined);
    const listeners = raw.listeners === undefined ? DEFAULT_LISTENERS.map((l) => ({ ...l } as Record<string, unknown>)) : list(raw.listeners);
    // What the node's own kube-apiserver (and Talos) listen on: the control-plane listeners' target ports.
    const held = new Map<number, string>(NODE_PORTS.map((p) => [p.port, p.owner]));
    for (const l of listeners) {
      if (l.targets !== 'controlPlane' || typeof l.targetPort !== 'number' || held.has(l.targetPort)) continue;
      held.set(l.targetPort, l.name === 'kubernetes' || l.targetPort === 6443 ? 'kube-apiserver' : `the service listener ${String(l.name)} forwards to`);
    }

    if ((balancer.mode ?? DEFAULT_BALANCER.mode) !== 'kernel') {
      const clashes = listeners.filter((l) => typeof l.port === 'number' && held.has(l.port)).map((l) => `${String(l.name)} ${String(l.port)} (${held.get(l.port as number)})`);
      problems.push({
        code: 'SPEC_VALUE', severity: 'error', path: 'balancer.mode',
        message: `serve on the control-plane nodes (staticPod) cannot use the proxy data plane: ${clashes.length > 0 ? `the node's own services hold ${clashes.join(', ')} on every address, so the proxy cannot bind them` : 'the node\'s kube-apiserver holds its port on every address, and the proxy would have to bind beside it'}`,
        hint: KERNEL_HINT,
      });
    }
    if (floating === undefined) {
      problems.push({
        code: 'SPEC_VALUE', severity: 'error', path: 'staticPod',
        message: 'serve on the control-plane nodes needs a floating address for the endpoint: a vip (the nodes elect its holder) or bgp (every healthy node announces it)',
        hint: 'add a vip section whose peers are the control-plane nodes (or a bgp section), and bind the balancer to that address',
      });
    }
    const bind = text(balancer.bind) ?? DEFAULT_BALANCER.bind;
    if (floating !== undefined && bind !== floating) {
      problems.push({
        code: 'SPEC_ADDRESS', severity: 'error', path: 'balancer.bind',
        message: `on the control-plane nodes balancer.bind must be the floating address ${floating}, not ${bind}: ${bind === '0.0.0.0' || bind === '::' ? 'the kernel would redirect port 6443 of every local address, the node\'s own address too, away from its kube-apiserver (and serve\'s own checks of it)' : 'the kernel redirects only traffic to the bound address'}`,
        hint: `set balancer.bind: ${floating}`,
      });
    }
    const admin = splitHostPort(text(balancer.admin) ?? DEFAULT_BALANCER.admin);
    if (admin && held.has(admin.port)) {
      problems.push({
        code: 'SPEC_VALUE', severity: 'error', path: 'balancer.admin',
        message: `port ${admin.port} is held by ${held.get(admin.port)} on the control-plane nodes`,
        hint: `pick a free port, e.g. ${admin.host}:8404`,
      });
    }
    if (vipAddress !== undefined) {
      const peers = list(vip.peers).map((p) => text(p.address)).filter((a): a is string => a !== undefined);
      const missing = entries(raw.controlPlane).filter(([, n]) => { const address = n.address; return typeof address === 'string' && !peers.some((p) => sameHost(p, address)); });
      if (missing.length > 0) {
        problems.push({
          code: 'SPEC_VALUE', severity: 'error', path: 'vip.peers',
          message: `the static pod runs on every control-plane node and finds itself among vip.peers by its address; ${missing.map(([i, n]) => `controlPlane[${i}] (${String(n.name)}, ${String(n.address)})`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not a peer, so serve would not start there`,
          hint: 'list every control-plane node under vip.peers with its address and a distinct priority',
        });
      }
      if (vip.authKey === undefined) {
        problems.push({
          code: 'SPEC_VALUE', severity: 'error', path: 'vip.authKey',
          message: 'the spec file travels to the nodes as it is; CLUSTER_ENDPOINT_VIP_KEY in this shell does not, so serve on the nodes would have no key',
          hint: 'set vip.authKey in the spec (the machine file and the manifest\'s spec file are written readable by root only)',
        });
      }
    }
    if (raw.bgp !== undefined) {
      problems.push({
        code: 'SPEC_VALUE', severity: 'warning', path: 'bgp',
        message: 'BIRD opens TCP port 179 on every node; a CNI or load balancer that speaks BGP on the nodes (Calico, Cilium BGP, MetalLB) holds that port too',
        hint: 'make sure nothing else on the control-plane nodes runs a BGP speaker, or use a vip',
      });
    }
    return problems;
  },
};
