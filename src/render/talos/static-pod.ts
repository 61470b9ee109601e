// render talos with staticPod: one patch for every control-plane node that runs serve as a Talos static pod
// (machine.pods) with the spec as a machine file. serve holds the VIP itself, so the patch sets no Talos VIP
// (two owners of one address would fight over it): only the endpoint, the certificate names, the file and the pod.
import { Document, isScalar, visit } from 'yaml';
import { UserError } from '../../errors.js';
import { joinHostPort } from '../../spec/address.js';
import { listenerOf } from '../../spec/listener-role.js';
import type { Spec } from '../../spec/types.js';
import { header } from '../header.js';
import { SPEC_FILE, staticPodManifest } from '../static-pod.js';
import type { RenderContext, RenderedFile } from '../types.js';

/** Talos writes new machine files only under /var (anything else is its read-only root). */
export const TALOS_SPEC_DIR = '/var/etc/cluster-endpoint';

export function staticPodPatch(spec: Spec, context: RenderContext): RenderedFile[] {
  if (context.specText === undefined) throw new UserError('RENDER', 'staticPod: the spec file\'s text is needed for the machine file', { hint: 'render from a spec file: cluster-endpoint render talos -c endpoint.yaml -o DIR' });
  const port = listenerOf(spec, 'kubernetes')?.port ?? 6443;
  const certSANs = [...new Set([spec.endpoint, ...(spec.vip ? [spec.vip.address] : []), ...spec.talos.certSANs])];
  const patch = {
    machine: {
      certSANs,
      files: [{ content: context.specText, permissions: 0o600, path: `${TALOS_SPEC_DIR}/${SPEC_FILE}`, op: 'create' }],
      pods: [staticPodManifest(spec, { specDir: TALOS_SPEC_DIR, specText: context.specText })],
    },
    cluster: {
      controlPlane: { endpoint: `https://${joinHostPort(spec.endpoint, port)}` },
      apiServer: { certSANs },
    },
  };
  const document = new Document(patch, { aliasDuplicateObjects: false });
  // Talos documents file modes in octal; the YAML says 0o600 rather than 384.
  visit(document, { Pair(_, pair) { if (isScalar(pair.key) && pair.key.value === 'permissions' && isScalar(pair.value)) pair.value.format = 'OCT'; } });
  return [{
    path: 'static-pod.yaml',
    secret: true,
    contents: [
      header(context, '#').trimEnd(),
      `# Every control-plane node: serve as a static pod (${spec.staticPod!.image}) holding the endpoint ${spec.endpoint}`,
      `# itself (${spec.vip ? `VIP ${spec.vip.address}` : 'BGP'}, kernel data plane); the spec travels as ${TALOS_SPEC_DIR}/${SPEC_FILE}.`,
      '# Apply to each control-plane node: talosctl patch machineconfig -n <node> --patch @static-pod.yaml',
      '# (or pass it to talosctl gen config / apply-config with --config-patch). Talos writes machine files at boot:',
      '# after a change of the spec, apply the patch again and reboot the nodes one at a time (the VIP moves away first).',
      '# The file holds the spec, VIP key included: keep it as secret as the machine config.',
      document.toString({ lineWidth: 0 }),
    ].join('\n'),
  }];
}
