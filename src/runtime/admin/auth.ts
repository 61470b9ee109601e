// Bearer-token check for the admin surface. Browsers cannot send a bearer token when they open a
// page, so HTTP Basic with the token as the password is accepted too (the user name is ignored):
// the browser asks once and then sends it with the page's own fetches.
import { createHash, timingSafeEqual } from 'node:crypto';

export const AUTH_REALM = 'cluster-endpoint';

/** The challenges sent with a 401: Bearer for API clients, Basic so a browser shows its login prompt. */
export const AUTH_CHALLENGES = [`Bearer realm="${AUTH_REALM}"`, `Basic realm="${AUTH_REALM}", charset="UTF-8"`];

/** Returns a checker for one token: true when the Authorization header carries exactly that token. */
export function tokenChecker(token: string): (authorization: string | undefined) => boolean {
  // Hashing both sides gives equal-length buffers, so timingSafeEqual never leaks the token length.
  const expected = digest(token);
  return (authorization) => {
    const presented = presentedToken(authorization);
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), expected);
  };
}

/** The token in `Bearer <token>` or the password in `Basic base64(user:password)`. */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^(\S+)\s+(.+)$/.exec(authorization.trim());
  if (!match) return undefined;
  const scheme = match[1].toLowerCase();
  if (scheme === 'bearer') return match[2].trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(match[2].trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
