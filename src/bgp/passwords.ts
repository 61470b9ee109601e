// TCP MD5 passwords for the BGP sessions (bgp.peers[].passwordFile), read by serve at start so that the secret
// lives in a file of its own (mode 0600, LoadCredential=, a secret manager's mount) and not in the spec. BIRD
// takes a password as a quoted string without escapes, and Linux's TCP MD5 key is at most 80 bytes.
import { readFile, stat } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BgpPeer } from '../spec/types.js';

/** TCP_MD5SIG_MAXKEYLEN. */
export const MAX_PASSWORD_BYTES = 80;

/** The password in a file's text: one line (a final newline is dropped), or why it cannot be one. */
export function parsePassword(text: string): { password: string } | { problem: string } {
  const password = text.replace(/\r?\n$/, '');
  if (password.length === 0) return { problem: 'is empty' };
  if (/[\r\n]/.test(password)) return { problem: 'has more than one line' };
  if (/["\\]/.test(password)) return { problem: 'contains a quote or a backslash, which BIRD cannot take in a password' };
  if (/[\x00-\x1f\x7f]/.test(password)) return { problem: 'contains a control character' };
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return { problem: `is longer than ${MAX_PASSWORD_BYTES} bytes (the TCP MD5 key limit)` };
  return { password };
}

/** Reads every peer's passwordFile; a file others can read is used, with a warning. */
export async function readPasswords(peers: readonly BgpPeer[], logger: Logger): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const peer of peers) {
    if (peer.passwordFile === undefined) continue;
    const fail = (what: string, cause?: unknown) => new UserError('BGP', `bgp: the passwordFile of peer ${peer.name} (${peer.passwordFile}) ${what}`, {
      hint: 'write the session\'s MD5 password, alone on one line, into that file on this host (mode 0600), the same as on the router', exitCode: 2, cause,
    });
    let text;
    try {
      text = await readFile(peer.passwordFile, 'utf8');
    } catch (error) {
      throw fail(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
    }
    const parsed = parsePassword(text);
    if ('problem' in parsed) throw fail(parsed.problem);
    const mode = (await stat(peer.passwordFile)).mode;
    if ((mode & 0o077) !== 0) {
      logger.warn({ event: 'bgp-password', peer: peer.name, file: peer.passwordFile, mode: (mode & 0o777).toString(8) }, `bgp: the passwordFile of peer ${peer.name} (${peer.passwordFile}) can be read by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    }
    out.set(peer.name, parsed.password);
  }
  return out;
}
