import { isLoopback, splitHostPort } from '../address.js';
import { record, type Rule } from './rule.js';

/** The admin surface can drain servers: off loopback it needs a token. */
export const adminToken: Rule = {
  id: 'admin-token',
  check(raw) {
    const balancer = record(raw.balancer);
    const admin = typeof balancer.admin === 'string' ? splitHostPort(balancer.admin) : undefined;
    if (!admin || isLoopback(admin.host)) return [];
    if (typeof balancer.adminToken === 'string' || process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN) return [];
    return [{
      code: 'SPEC_VALUE', severity: 'error', path: 'balancer.admin',
      message: `the admin surface on ${balancer.admin} is reachable from other hosts but has no token`,
      hint: 'set balancer.adminToken (16+ characters) or CLUSTER_ENDPOINT_ADMIN_TOKEN, or bind admin to 127.0.0.1',
    }];
  },
};
