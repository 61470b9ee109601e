// render talos: one machine-config patch per node. Every control-plane node gets the endpoint and the names its
// certificates carry, and with a Talos VIP its address, routes and the VIP on their link (physical, bond, VLAN),
// in the legacy machine.network form (Talos <= 1.11) or as Talos >= 1.12 network documents; every worker gets
// the endpoint.
import { stringify } from 'yaml';
import { header } from '../header.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';
import { planTalos, type ClusterPlan, type TalosNodePlan, type VipPlan } from './plan.js';
import { staticPodPatch } from './static-pod.js';

/** Bond link monitoring (ms): without it Linux never notices a member that lost its link. */
const BOND_MIIMON_MS = 100;

// No anchors: each certSANs list is written out in full, as people read and diff these files.
const yaml = (value: unknown) => stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });

const NOTE = [
  '# Apply to this node only: talosctl patch machineconfig -n <node> --patch @<file>',
  '# (or pass it to talosctl gen config / apply-config with --config-patch).',
  '# talosctl endpoints stay the node addresses, not the VIP: the VIP is only held while etcd and the',
  '# apiserver are healthy, so talosctl through it fails when you need it most (see docs/render/talos.md).',
];

/** The v1alpha1 part both styles share: where the cluster is reached and the names its certificates carry. */
function clusterPart(plan: ClusterPlan) {
  return {
    certSANs: plan.certSANs,
    cluster: {
      controlPlane: { endpoint: plan.endpointUrl },
      apiServer: { certSANs: plan.certSANs },
    },
  };
}

function routes(plan: VipPlan) {
  return plan.gateway ? [{ network: plan.family === 4 ? '0.0.0.0/0' : '::/0', gateway: plan.gateway }] : undefined;
}

/** One control-plane node without a VIP: where the cluster is reached and the names its certificates carry. */
export function endpointPatch(plan: ClusterPlan): string {
  const { certSANs, cluster } = clusterPart(plan);
  return yaml({ machine: { certSANs }, cluster });
}

/** The address, the default route and the VIP, on whichever device or VLAN carries them (legacy form). */
function legacyAddressing(plan: VipPlan, node: TalosNodePlan) {
  return { addresses: [node.cidr], ...(routes(plan) ? { routes: routes(plan) } : {}), vip: { ip: plan.vip } };
}

export function legacyPatch(plan: VipPlan, node: TalosNodePlan): string {
  const { certSANs, cluster } = clusterPart(plan);
  const addressing = legacyAddressing(plan, node);
  const device = {
    ...(plan.legacySelector ? { deviceSelector: plan.legacySelector } : { interface: plan.base }),
    ...(plan.bond ? { bond: { interfaces: plan.bond.links, mode: plan.bond.mode, miimon: BOND_MIIMON_MS } } : {}),
    ...(plan.vlan !== undefined ? { vlans: [{ vlanId: plan.vlan, ...addressing }] } : addressing),
  };
  const machine = {
    network: { interfaces: [device], ...(plan.nameservers.length > 0 ? { nameservers: plan.nameservers } : {}) },
    certSANs,
  };
  return yaml({ machine, cluster });
}

export function documentsPatch(plan: VipPlan, node: TalosNodePlan): string {
  const { certSANs, cluster } = clusterPart(plan);
  const documents: unknown[] = [{ machine: { certSANs }, cluster }];
  if (plan.selectorCel) documents.push({ apiVersion: 'v1alpha1', kind: 'LinkAliasConfig', name: plan.base, selector: { match: plan.selectorCel } });
  const addressing = {
    addresses: [{ address: node.cidr }],
    // No destination: Talos creates the default route of the gateway's address family.
    ...(plan.gateway ? { routes: [{ gateway: plan.gateway }] } : {}),
  };
  // Talos >= 1.12 describes each kind of link with its own document: LinkConfig is for physical links only.
  if (plan.bond) {
    documents.push({ apiVersion: 'v1alpha1', kind: 'BondConfig', name: plan.base, links: plan.bond.links, bondMode: plan.bond.mode, miimon: BOND_MIIMON_MS, ...(plan.vlan === undefined ? addressing : {}) });
  }
  if (plan.vlan !== undefined) {
    documents.push({ apiVersion: 'v1alpha1', kind: 'VLANConfig', name: plan.link, vlanID: plan.vlan, parent: plan.base, ...addressing });
  } else if (!plan.bond) {
    documents.push({ apiVersion: 'v1alpha1', kind: 'LinkConfig', name: plan.link, ...addressing });
  }
  documents.push({ apiVersion: 'v1alpha1', kind: 'Layer2VIPConfig', name: plan.vip, link: plan.link });
  if (plan.nameservers.length > 0) documents.push({ apiVersion: 'v1alpha1', kind: 'ResolverConfig', nameservers: plan.nameservers.map((address) => ({ address })) });
  return documents.map(yaml).join('---\n');
}

/** A worker: where the cluster is reached (its kubelet and KubePrism use it); it serves no cluster certificate. */
export function workerPatch(plan: ClusterPlan): string {
  return yaml({ cluster: { controlPlane: { endpoint: plan.endpointUrl } } });
}

const APPLY = [
  '# Apply to this node: talosctl patch machineconfig -n <node> --patch @<file>',
  '# (or pass it to talosctl gen config / apply-config with --config-patch).',
];

function file(context: RenderContext, name: string, lines: string[]): RenderedFile {
  return { path: `${name}.yaml`, contents: [header(context, '#').trimEnd(), ...lines].join('\n') };
}

function workerFiles(plan: ClusterPlan, context: RenderContext): RenderedFile[] {
  return plan.workers.map((node) => file(context, node.name, [
    `# ${node.name} (${node.address}), a worker: where the cluster is reached, ${plan.endpointUrl}.`,
    ...APPLY,
    workerPatch(plan),
  ]));
}

export const talosRenderer: Renderer = {
  target: 'talos',
  description: 'Talos machine-config patches per node: the endpoint and certSANs in every topology, and the VIP with its link (physical, bond, VLAN) for a Talos VIP (legacy or >= 1.12 documents); with staticPod, one patch that runs serve on every control-plane node',
  render(spec, context: RenderContext): RenderedFile[] {
    if (spec.staticPod) return staticPodPatch(spec, context);
    const plan = planTalos(spec);
    const style = spec.talos.configStyle;
    if (plan.kind === 'single') {
      const { node } = plan;
      return [file(context, node.name, [
        `# ${node.name} (${node.address}): the only control-plane node, no VIP — the endpoint and the names its`,
        '# certificates carry. Nothing fails over: while this node reboots the API is unreachable.',
        ...APPLY,
        endpointPatch(plan),
      ]), ...workerFiles(plan, context)];
    }
    if (plan.kind === 'fronted') {
      return [...plan.nodes.map((node) => file(context, node.name, [
        `# ${node.name} (${node.address}): the endpoint and the names its certificates carry; the endpoint is held by`,
        `# ${plan.via}, not by the nodes, so no network settings.`,
        ...APPLY,
        endpointPatch(plan),
      ])), ...workerFiles(plan, context)];
    }
    return [...plan.nodes.map((node) => file(context, node.name, [
      `# ${node.name} (${node.address}): ${style === 'legacy' ? 'legacy machine.network form (Talos <= 1.11; deprecated in 1.12+)' : 'network documents (Talos >= 1.12)'}, VIP ${plan.vip}${plan.bond || plan.vlan !== undefined ? ` on ${linkText(plan)}` : ''}.`,
      ...NOTE,
      style === 'legacy' ? legacyPatch(plan, node) : documentsPatch(plan, node),
    ])), ...workerFiles(plan, context)];
  },
};

function linkText(plan: VipPlan): string {
  const bond = plan.bond ? `bond ${plan.base} of ${plan.bond.links.join(', ')} (${plan.bond.mode})` : plan.base;
  return plan.vlan !== undefined ? `VLAN ${plan.vlan} (${plan.link}) of ${bond}` : bond;
}
