import { formatDuration } from '../../../spec/duration.js';
import { defineRule } from '../../context.js';
import { specLine } from './where.js';

const AWS_NLB_IDLE_MS = 350_000;

/** Idle kubectl logs -f, exec and watches are cut by a short idle timeout. */
export const specIdleTimeout = defineRule({
  id: 'spec/idle-timeout',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    // In kernel mode idleTimeout does nothing (spec/kernel-mode-proxy-settings says so).
    if (!spec || spec.balancer.mode === 'kernel' || spec.balancer.idleTimeoutMs >= AWS_NLB_IDLE_MS) return [];
    return [{
      severity: 'warning' as const,
      line: specLine(file, ['balancer', 'idleTimeout']),
      message: `balancer.idleTimeout ${formatDuration(spec.balancer.idleTimeoutMs)} is shorter than AWS NLB's 350s`,
      why: 'kubectl logs -f, kubectl exec and watches can be idle for minutes; the balancer closes them and users see "connection reset" or a watch that silently restarts',
      source: 'https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout',
      fix: 'remove idleTimeout (default 1h) or set it to at least 350s',
    }];
  },
});
