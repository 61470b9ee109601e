import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/**
 * A TCP connect (or a TLS handshake) succeeds while kube-apiserver is up but not ready (etcd down, starting,
 * shutting down). The same trap as haproxy/tcp-only-check, so a rendered haproxy.cfg and its spec agree.
 */
export const specTcpCheckKubernetes = defineRule({
  id: 'spec/tcp-check-kubernetes',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec) return [];
    return spec.listeners.flatMap((listener, index) => {
      if (listener.role !== 'kubernetes' || listener.healthCheck.type === 'https') return [];
      const what = listener.healthCheck.type === 'tls' ? 'a TLS handshake' : 'a TCP connect';
      return [{
        severity: 'warning' as const,
        line: specLine(file, ['listeners', index, 'healthCheck', 'type'], ['healthCheck', 'type'], ['listeners', index], ['endpoint']),
        message: `listener "${listener.name}" checks the Kubernetes API with ${what} only`,
        why: `the port accepts ${listener.healthCheck.type === 'tls' ? 'TLS handshakes' : 'connections'} before kube-apiserver is ready and while it shuts down, so the balancer keeps sending requests to a server that answers 500/503; /readyz says when it can serve`,
        source: 'https://kubernetes.io/docs/reference/using-api/health-checks/',
        fix: `set listeners[${index}].healthCheck: { type: https, path: /readyz } (kube-apiserver serves /readyz to anonymous clients by default; add clientCertificate if anonymous auth is off)`,
      }];
    });
  },
});
