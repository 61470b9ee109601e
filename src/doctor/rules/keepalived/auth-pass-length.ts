import { defineRule } from '../../context.js';
import { child, children, topLevel } from '../../parsers/keepalived.js';
import { KEEPALIVED_MAN } from './instances.js';

/** VRRPv2 PASS authentication carries 8 bytes: keepalived truncates a longer auth_pass. */
export const keepalivedAuthPassLength = defineRule({
  id: 'keepalived/auth-pass-length',
  kind: 'keepalived',
  check(file) {
    return topLevel(file.config, 'vrrp_instance').flatMap((instance) => children(instance, 'authentication').flatMap((auth) => {
      const pass = child(auth, 'auth_pass');
      const value = pass?.args.join(' ') ?? '';
      if (!pass || value.length <= 8) return [];
      return [{
        severity: 'warning' as const,
        line: pass.line,
        message: `auth_pass of vrrp_instance ${instance.args[0] ?? ''} is ${value.length} characters; keepalived uses only "${value.slice(0, 8)}"`,
        why: 'the VRRPv2 authentication field holds 8 bytes, so keepalived silently truncates (keepalived -t: "Truncating auth_pass to 8 characters"): the rest adds no secrecy, and a peer configured with another tail still matches',
        source: `https://www.rfc-editor.org/rfc/rfc2338#section-5.3.10 (Authentication Data: 8 octets) ; ${KEEPALIVED_MAN}`,
        fix: 'use at most 8 characters (and know that PASS authentication is sent in clear text: it guards against mistakes, not attackers)',
      }];
    }));
  },
});
