// Who gets new flows: the one decision both data planes make from the members' two states.
import type { AdminState, ServerState } from '../health/types.js';
import type { BalancerSettings } from '../spec/types.js';

/** What the decision reads of a member (a Member, or a data plane's view of one). */
export interface RotationCandidate {
  readonly state: ServerState;
  readonly adminState: AdminState;
  /** Gone from the membership (spec or discovery): it only drains. */
  readonly removed: boolean;
}

/** Up and ready, and still a member: takes new flows. */
export function isEligible(member: RotationCandidate): boolean {
  return member.state === 'up' && member.adminState === 'ready' && !member.removed;
}

/**
 * The members that get new flows, in their order: the eligible ones (up and ready); when none is and the
 * policy is fail-open, every member not in maintenance and not removed — as an AWS NLB routes to all targets
 * when all are unhealthy. Pure.
 */
export function inRotation<T extends RotationCandidate>(members: readonly T[], whenAllDown: BalancerSettings['whenAllDown']): T[] {
  const eligible = members.filter(isEligible);
  if (eligible.length > 0 || whenAllDown !== 'fail-open') return eligible;
  return members.filter((m) => m.adminState !== 'maint' && !m.removed);
}
