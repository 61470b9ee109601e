import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/** Connections to a server marked down stay open until they time out. */
export const specOnMarkedDownKeep = defineRule({
  id: 'spec/on-marked-down-keep',
  kind: 'spec',
  check(file) {
    if (file.result.spec?.balancer.onMarkedDown !== 'keep') return [];
    return [{
      severity: 'warning' as const,
      line: specLine(file, ['balancer', 'onMarkedDown']),
      message: 'balancer.onMarkedDown is keep: connections to a server marked down stay open',
      why: 'a watch or exec session on a dead node hangs until the idle timeout instead of reconnecting through a healthy node (HAProxy needs on-marked-down shutdown-sessions for the same reason)',
      source: 'https://docs.haproxy.org/2.6/configuration.html#5.2-on-marked-down',
      fix: 'remove onMarkedDown (default close)',
    }];
  },
});
