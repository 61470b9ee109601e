import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/** A TCP connect succeeds while kube-apiserver is up but not ready (etcd down, starting, shutting down). */
export const specTcpCheckKubernetes = defineRule({
  id: 'spec/tcp-check-kubernetes',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec) return [];
    return spec.listeners.flatMap((listener, index) => {
      if (listener.role !== 'kubernetes' || listener.healthCheck.type !== 'tcp') return [];
      return [{
        severity: 'warning' as const,
        line: specLine(file, ['listeners', index, 'healthCheck', 'type'], ['healthCheck', 'type'], ['listeners', index], ['endpoint']),
        message: `listener "${listener.name}" checks the Kubernetes API with a TCP connect only`,
        why: 'the port accepts connections before kube-apiserver is ready and while it shuts down, so the balancer keeps sending requests to a server that answers 500/503; /readyz says when it can serve',
        source: 'https://kubernetes.io/docs/reference/using-api/health-checks/',
        fix: `set listeners[${index}].healthCheck: { type: https, path: /readyz } (kube-apiserver serves /readyz to anonymous clients by default; add clientCertificate if anonymous auth is off)`,
      }];
    });
  },
});
