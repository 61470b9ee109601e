import { isLoopback, splitHostPort } from '../address.js';
import type { Problem } from '../problem.js';
import { record, type Rule } from './rule.js';

/** One minimum for a secret, wherever it comes from (the spec or the environment). */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
export const MIN_VIP_KEY_LENGTH = 8;

/**
 * The admin surface can drain servers: off loopback it needs a token, and a token (from the spec or
 * CLUSTER_ENDPOINT_ADMIN_TOKEN) is long enough not to be guessed. The VIP key likewise.
 */
export const adminToken: Rule = {
  id: 'admin-token',
  check(raw) {
    const problems: Problem[] = [];
    const balancer = record(raw.balancer);
    const envToken = process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN || undefined;
    if (typeof balancer.adminToken !== 'string' && envToken !== undefined && envToken.length < MIN_ADMIN_TOKEN_LENGTH) {
      problems.push({
        code: 'SPEC_VALUE', severity: 'error', path: 'balancer.adminToken',
        message: `CLUSTER_ENDPOINT_ADMIN_TOKEN is ${envToken.length} character(s); an admin token needs at least ${MIN_ADMIN_TOKEN_LENGTH}`,
        hint: 'set a longer token, e.g. CLUSTER_ENDPOINT_ADMIN_TOKEN=$(openssl rand -hex 16)',
      });
    }
    const vip = record(raw.vip);
    const envKey = process.env.CLUSTER_ENDPOINT_VIP_KEY || undefined;
    if (typeof raw.vip === 'object' && typeof vip.authKey !== 'string' && envKey !== undefined && envKey.length < MIN_VIP_KEY_LENGTH) {
      problems.push({
        code: 'SPEC_VALUE', severity: 'error', path: 'vip.authKey',
        message: `CLUSTER_ENDPOINT_VIP_KEY is ${envKey.length} character(s); a VIP key needs at least ${MIN_VIP_KEY_LENGTH}`,
        hint: 'set a longer key, e.g. CLUSTER_ENDPOINT_VIP_KEY=$(openssl rand -hex 16), the same on every peer',
      });
    }
    const admin = typeof balancer.admin === 'string' ? splitHostPort(balancer.admin) : undefined;
    if (!admin || isLoopback(admin.host)) return problems;
    if (typeof balancer.adminToken === 'string' || envToken !== undefined) return problems;
    problems.push({
      code: 'SPEC_VALUE', severity: 'error', path: 'balancer.admin',
      message: `the admin surface on ${balancer.admin} is reachable from other hosts but has no token`,
      hint: `set balancer.adminToken (${MIN_ADMIN_TOKEN_LENGTH}+ characters) or CLUSTER_ENDPOINT_ADMIN_TOKEN, or bind admin to 127.0.0.1`,
    });
    return problems;
  },
};
