import { defineRule } from '../../context.js';
import { child, topLevel } from '../../parsers/keepalived.js';

/** `pidof haproxy` proves a process exists, not that it serves; under keepalived 2.2.7 it fails outright. */
export const keepalivedPidofCheck = defineRule({
  id: 'keepalived/pidof-check',
  kind: 'keepalived',
  check(file) {
    return topLevel(file.config, 'vrrp_script').flatMap((script) => {
      const command = child(script, 'script');
      const text = command?.args.join(' ') ?? '';
      if (!command || !/(^|[\s/;&|])(pidof|killall\s+-0)\s/.test(` ${text} `)) return [];
      return [{
        severity: 'warning' as const,
        line: command.line,
        message: `vrrp_script ${script.args[0] ?? ''} checks the balancer with "${text}"`,
        why: 'a process check passes while HAProxy is hung or failed to bind its frontends, and sees processes of other namespaces/containers; under keepalived 2.2.7 "pidof" ends up running killall5 and always fails (measured)',
        source: 'https://github.com/acassen/keepalived/issues/1367 (pidof → "/sbin/killall5 haproxy exited with status 1") ; https://github.com/acassen/keepalived/issues/1420 (killall -0) ; measured with keepalived 2.2.7, docs/doctor.md',
        fix: 'check through HAProxy, e.g. script "/usr/bin/curl -sfk https://127.0.0.1:6443/readyz", or a monitor-uri that fails when its backend has no server up (render keepalived does this), with script_user root and enable_script_security in global_defs; a bare TCP connect to the frontend passes even with every server down',
      }];
    });
  },
});
