// render talos: one machine-config patch per control-plane node with its address, routes and the VIP,
// in the legacy machine.network form (Talos <= 1.11) or as Talos >= 1.12 network documents.
import { stringify } from 'yaml';
import { header } from '../header.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';
import { planTalos, type ClusterPlan, type TalosNodePlan, type VipPlan } from './plan.js';
import { staticPodPatch } from './static-pod.js';

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

export function legacyPatch(plan: VipPlan, node: TalosNodePlan): string {
  const { certSANs, cluster } = clusterPart(plan);
  const device = {
    ...(plan.legacySelector ? { deviceSelector: plan.legacySelector } : { interface: plan.link }),
    addresses: [node.cidr],
    ...(routes(plan) ? { routes: routes(plan) } : {}),
    vip: { ip: plan.vip },
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
  if (plan.selectorCel) documents.push({ apiVersion: 'v1alpha1', kind: 'LinkAliasConfig', name: plan.link, selector: { match: plan.selectorCel } });
  documents.push({
    apiVersion: 'v1alpha1',
    kind: 'LinkConfig',
    name: plan.link,
    addresses: [{ address: node.cidr }],
    // No destination: Talos creates the default route of the gateway's address family.
    ...(plan.gateway ? { routes: [{ gateway: plan.gateway }] } : {}),
  });
  documents.push({ apiVersion: 'v1alpha1', kind: 'Layer2VIPConfig', name: plan.vip, link: plan.link });
  if (plan.nameservers.length > 0) documents.push({ apiVersion: 'v1alpha1', kind: 'ResolverConfig', nameservers: plan.nameservers.map((address) => ({ address })) });
  return documents.map(yaml).join('---\n');
}

export const talosRenderer: Renderer = {
  target: 'talos',
  description: 'Talos machine-config patches per control-plane node with the VIP (legacy or >= 1.12 documents); for one node without a VIP, its endpoint and certSANs; with staticPod, one patch that runs serve on every control-plane node',
  render(spec, context: RenderContext): RenderedFile[] {
    if (spec.staticPod) return staticPodPatch(spec, context);
    const plan = planTalos(spec);
    const style = spec.talos.configStyle;
    if (plan.kind === 'single') {
      const { node } = plan;
      return [{
        path: `${node.name}.yaml`,
        contents: [
          header(context, '#').trimEnd(),
          `# ${node.name} (${node.address}): the only control-plane node, no VIP — the endpoint and the names its`,
          '# certificates carry. Nothing fails over: while this node reboots the API is unreachable.',
          '# Apply to this node: talosctl patch machineconfig -n <node> --patch @<file>',
          '# (or pass it to talosctl gen config / apply-config with --config-patch).',
          endpointPatch(plan),
        ].join('\n'),
      }];
    }
    return plan.nodes.map((node) => ({
      path: `${node.name}.yaml`,
      contents: [
        header(context, '#').trimEnd(),
        `# ${node.name} (${node.address}): ${style === 'legacy' ? 'legacy machine.network form (Talos <= 1.11; deprecated in 1.12+)' : 'network documents (Talos >= 1.12)'}, VIP ${plan.vip}.`,
        ...NOTE,
        style === 'legacy' ? legacyPatch(plan, node) : documentsPatch(plan, node),
      ].join('\n'),
    }));
  },
};
