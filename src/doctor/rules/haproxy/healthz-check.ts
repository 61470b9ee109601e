import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { HEALTH_CHECKS_DOCS, healthzWhy, isHealthz } from '../../sources.js';

/** /healthz is deprecated; /readyz is what says whether kube-apiserver should get traffic. */
export const haproxyHealthzCheck = defineRule({
  id: 'haproxy/healthz-check',
  kind: 'haproxy',
  check(file) {
    const found: RuleFinding[] = [];
    for (const section of file.config.sections) {
      for (const d of section.directives) {
        const httpchk = d.words[0] === 'option' && d.words[1] === 'httpchk';
        const send = d.words[0] === 'http-check' && d.words[1] === 'send';
        if (!httpchk && !send) continue;
        const uri = httpchk ? d.words.slice(2).find((w) => w.startsWith('/')) : d.words[d.words.indexOf('uri') + 1];
        if (!uri || !isHealthz(uri)) continue;
        found.push({
          severity: 'warning', line: d.line,
          message: `${[section.kind, section.name].filter(Boolean).join(' ')} checks ${uri}, which is deprecated`,
          why: healthzWhy('HAProxy'),
          source: HEALTH_CHECKS_DOCS,
          fix: `check /readyz instead (${httpchk ? 'option httpchk GET /readyz' : 'http-check send meth GET uri /readyz'})`,
        });
      }
    }
    return found;
  },
});
