import { defineRule } from '../../context.js';
import { CHECK_OPTIONS } from './backends.js';

/** `option ssl-hello-chk` (or another check option) after `option httpchk` silently replaces the HTTP check. */
export const haproxySslHelloAfterHttpchk = defineRule({
  id: 'haproxy/ssl-hello-after-httpchk',
  kind: 'haproxy',
  check(file) {
    const found = [];
    for (const section of file.config.sections) {
      const httpchk = section.directives.find((d) => d.words[0] === 'option' && d.words[1] === 'httpchk');
      if (!httpchk) continue;
      const later = section.directives.find((d) => d.line > httpchk.line && d.words[0] === 'option' && d.words[1] !== 'httpchk' && (CHECK_OPTIONS as readonly string[]).includes(d.words[1] ?? ''));
      if (!later) continue;
      found.push({
        severity: 'error' as const,
        line: later.line,
        message: `option ${later.words[1]} on line ${later.line} replaces option httpchk from line ${httpchk.line} in ${section.kind} ${section.name}`.trim(),
        why: 'HAProxy runs one check type per backend and the last check option wins: the HTTP check you wrote is never sent, so a server that is up but not ready stays in service',
        source: 'https://docs.haproxy.org/2.6/configuration.html#4-option%20ssl-hello-chk ("only one check option may be used")',
        fix: `delete "option ${later.words.slice(1).join(' ')}"; for HTTPS checks keep option httpchk and add "check-ssl verify none" (or "verify required ca-file ...") to the server lines`,
      });
    }
    return found;
  },
});
