import { defineRule } from '../../context.js';
import { child, topLevel } from '../../parsers/keepalived.js';
import { KEEPALIVED_MAN } from './instances.js';

/** Track scripts without `enable_script_security`: keepalived warns, and `keepalived -t` exits 6. */
export const keepalivedScriptSecurity = defineRule({
  id: 'keepalived/script-security',
  kind: 'keepalived',
  check(file) {
    const scripts = topLevel(file.config, 'vrrp_script');
    if (scripts.length === 0) return [];
    if (topLevel(file.config, 'global_defs').some((g) => child(g, 'enable_script_security'))) return [];
    return [{
      severity: 'warning' as const,
      line: scripts[0].line,
      message: `vrrp_script ${scripts[0].args[0] ?? ''} runs without enable_script_security in global_defs`,
      why: 'keepalived then logs "SECURITY VIOLATION - scripts are being executed but script_security not enabled" and `keepalived -t` exits 6 (measured with 2.2.7); scripts run as root, so a script or directory writable by another user is a root escalation',
      source: `${KEEPALIVED_MAN} (global_defs: enable_script_security, script_user)`,
      fix: 'add global_defs { enable_script_security  script_user root } at the top, and keep the script and its directories writable by root only',
    }];
  },
});
