import { defineRule } from '../../context.js';
import { HEALTH_CHECKS_DOCS, healthzWhy, isHealthz } from '../../sources.js';
import { checkSetting, specLine } from './where.js';

/** An https check of kube-apiserver's deprecated /healthz instead of /readyz. */
export const specHealthzCheck = defineRule({
  id: 'spec/healthz-check',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec) return [];
    const lines = new Map<number, string>();
    spec.listeners.forEach((listener, index) => {
      const check = listener.healthCheck;
      if (check.type !== 'https' || !isHealthz(check.path)) return;
      const from = checkSetting(file, index, 'path');
      lines.set(from ? specLine(file, from.path) : specLine(file, ['listeners', index]), check.path);
    });
    return [...lines].map(([line, path]) => ({
      severity: 'warning' as const,
      line,
      message: `the https health check GETs ${path}, which is deprecated`,
      why: healthzWhy('the balancer'),
      source: HEALTH_CHECKS_DOCS,
      fix: 'set path: /readyz (the default)',
    }));
  },
});
