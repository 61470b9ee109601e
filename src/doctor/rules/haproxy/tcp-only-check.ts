import { defineRule } from '../../context.js';
import { checkInEffect, kubernetesBackends } from './backends.js';

/** A TCP connect check on kube-apiserver passes while the API is not ready. */
export const haproxyTcpOnlyCheck = defineRule({
  id: 'haproxy/tcp-only-check',
  kind: 'haproxy',
  check(file) {
    return kubernetesBackends(file.config).flatMap((section) => {
      const check = checkInEffect(file.config, section);
      if (check.depth === 'application') return [];
      const option = check.directive;
      return [{
        severity: 'warning' as const,
        line: option && option.line > section.line ? option.line : section.line,
        message: `${section.kind} ${section.name} checks the Kubernetes API with ${check.text} only`,
        why: `kube-apiserver accepts ${check.depth === 'tls' ? 'TLS handshakes' : 'TCP connections'} before it is ready and while it shuts down (etcd lost, starting, terminating), so HAProxy keeps sending requests that fail; GET /readyz over TLS reports readiness`,
        source: 'https://kubernetes.io/docs/reference/using-api/health-checks/ ; https://github.com/kubernetes/kubeadm/blob/main/docs/ha-considerations.md#haproxy-configuration',
        fix: 'use "option httpchk GET /readyz" with "http-check expect status 200" and "check check-ssl verify none" on the server lines',
      }];
    });
  },
});
