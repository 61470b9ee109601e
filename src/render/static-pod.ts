// The pod that runs serve on a control-plane node, as a static pod: the same manifest for Talos (machine.pods)
// and kubeadm (/etc/kubernetes/manifests). Host network, because serve holds the node's VIP and writes its
// nftables table; root without privilege: only the capabilities its engines need. Pure.
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import type { Spec } from '../spec/types.js';

/** Where the spec directory is mounted in the container (the image's default spec lives here). */
export const POD_SPEC_DIR = '/etc/cluster-endpoint';
export const SPEC_FILE = 'endpoint.yaml';
/** serve's helpers' files (conntrackd, BIRD): RUNTIME_DIRECTORY, a memory-backed emptyDir. */
const RUN_DIR = '/run/cluster-endpoint';

export interface StaticPodOptions {
  /** The directory on the node that holds endpoint.yaml. */
  specDir: string;
  /** The spec file's text: its digest goes into an annotation, so a changed spec restarts the pod. */
  specText: string;
}

/**
 * The capabilities serve uses on a node, each for one engine: the nftables table, conntrack, the VIP address
 * and routes (NET_ADMIN); gratuitous ARP and neighbour advertisements (NET_RAW); BIRD's port 179 (NET_BIND_SERVICE).
 */
export function capabilities(spec: Spec): string[] {
  return ['NET_ADMIN', ...(spec.vip ? ['NET_RAW'] : []), ...(spec.bgp ? ['NET_BIND_SERVICE'] : [])];
}

export function staticPodManifest(spec: Spec, options: StaticPodOptions): Record<string, unknown> {
  if (!spec.staticPod) throw new UserError('RENDER', 'staticPod: the spec does not ask for a static pod', { hint: 'add staticPod: { image: REGISTRY/cluster-endpoint:VERSION } (docs/control-plane-nodes.md)' });
  // serve drains for the deregistration delay on SIGTERM, after handing the VIP on; the kubelet must wait for it.
  const graceSeconds = Math.ceil(spec.deregistrationDelayMs / 1000) + 15;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'cluster-endpoint',
      namespace: 'kube-system',
      labels: { 'app.kubernetes.io/name': 'cluster-endpoint', 'app.kubernetes.io/component': 'control-plane-endpoint' },
      annotations: { 'cluster-endpoint.io/spec-sha256': createHash('sha256').update(options.specText).digest('hex') },
    },
    spec: {
      hostNetwork: true,
      dnsPolicy: 'Default',
      priorityClassName: 'system-node-critical',
      terminationGracePeriodSeconds: graceSeconds,
      containers: [{
        name: 'serve',
        image: spec.staticPod.image,
        imagePullPolicy: 'IfNotPresent',
        args: ['serve', '-c', `${POD_SPEC_DIR}/${SPEC_FILE}`],
        env: [{ name: 'RUNTIME_DIRECTORY', value: RUN_DIR }],
        securityContext: {
          runAsUser: 0,
          runAsGroup: 0,
          privileged: false,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'], add: capabilities(spec) },
        },
        resources: { requests: { cpu: '50m', memory: '64Mi' } },
        volumeMounts: [
          { name: 'spec', mountPath: POD_SPEC_DIR, readOnly: true },
          { name: 'run', mountPath: RUN_DIR },
        ],
      }],
      volumes: [
        { name: 'spec', hostPath: { path: options.specDir, type: 'Directory' } },
        { name: 'run', emptyDir: { medium: 'Memory' } },
      ],
    },
  };
}
