// render kubeadm: serve as a static pod on every control-plane node of a kubeadm cluster — the manifest for
// /etc/kubernetes/manifests (the kubelet runs it) and the spec it reads from /etc/cluster-endpoint.
import { stringify } from 'yaml';
import { UserError } from '../../errors.js';
import { header } from '../header.js';
import { POD_SPEC_DIR, SPEC_FILE, staticPodManifest } from '../static-pod.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';

/** Where the manifest expects the spec on a node (the same path as inside the container). */
export const KUBEADM_SPEC_DIR = POD_SPEC_DIR;
export const MANIFEST = 'cluster-endpoint-pod.yaml';

export const kubeadmRenderer: Renderer = {
  target: 'kubeadm',
  description: 'a static pod manifest that runs serve on every kubeadm control-plane node (/etc/kubernetes/manifests), with the spec it reads (needs staticPod)',
  section: { name: 'staticPod', present: (spec) => spec.staticPod !== undefined },
  render(spec, context: RenderContext): RenderedFile[] {
    if (!spec.staticPod) throw new UserError('RENDER', 'render kubeadm writes the static pod that runs serve on the control-plane nodes, and the spec has no staticPod section', { hint: 'add staticPod: { image: REGISTRY/cluster-endpoint:VERSION } with balancer.mode: kernel and a vip (docs/control-plane-nodes.md)' });
    if (context.specText === undefined) throw new UserError('RENDER', 'staticPod: the spec file\'s text is needed on the nodes', { hint: 'render from a spec file: cluster-endpoint render kubeadm -c endpoint.yaml -o DIR' });
    const manifest = staticPodManifest(spec, { specDir: KUBEADM_SPEC_DIR, specText: context.specText });
    return [
      {
        path: MANIFEST,
        contents: [
          header(context, '#').trimEnd(),
          `# serve on this control-plane node, holding the endpoint ${spec.endpoint} (${spec.vip ? `VIP ${spec.vip.address}` : 'BGP'}, kernel data plane).`,
          `# Copy to /etc/kubernetes/manifests/${MANIFEST} on every control-plane node, after ${SPEC_FILE} (next to this`,
          `# file) is in ${KUBEADM_SPEC_DIR}/ (root:root, 0600); the kubelet starts it within seconds. With kubeadm init, put`,
          '# both in place first and pass --control-plane-endpoint with the endpoint (docs/control-plane-nodes.md).',
          stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false }),
        ].join('\n'),
      },
      // The spec as it was written: serve on the node validates and watches it like anywhere else.
      { path: SPEC_FILE, contents: context.specText, secret: true },
    ];
  },
};
