import { defineRule } from '../../context.js';
import { checkOption, checksApplication, kubernetesBackends } from './backends.js';

/** A TCP connect check on kube-apiserver passes while the API is not ready. */
export const haproxyTcpOnlyCheck = defineRule({
  id: 'haproxy/tcp-only-check',
  kind: 'haproxy',
  check(file) {
    return kubernetesBackends(file.config)
      .filter((section) => !checksApplication(file.config, section))
      .map((section) => {
        const option = checkOption(file.config, section);
        return {
          severity: 'warning' as const,
          line: option && option.line > section.line ? option.line : section.line,
          message: `${section.kind} ${section.name} checks the Kubernetes API with a TCP connect only`,
          why: 'kube-apiserver accepts TCP connections before it is ready and while it shuts down (etcd lost, starting, terminating), so HAProxy keeps sending requests that fail; GET /readyz over TLS reports readiness',
          source: 'https://kubernetes.io/docs/reference/using-api/health-checks/ ; https://github.com/kubernetes/kubeadm/blob/main/docs/ha-considerations.md#haproxy-configuration',
          fix: 'use "option httpchk GET /readyz" with "http-check expect status 200" and "check check-ssl verify none" on the server lines',
        };
      });
  },
});
