// The reference guide's haproxy.cfg and keepalived.conf, taken from the guide itself when it is on this machine
// (its licence is not stated, so the guide is not copied into the repository). Without it, the two files as
// test/fixtures/doctor/bad/ has them (the guide's configuration blocks, as published) stand in.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const GUIDE = process.env.CLUSTER_ENDPOINT_GUIDE ?? '/work/shared/reference/load-balancing-guide.md';

export interface GuideFiles { haproxy: string; keepalived: string; from: string }

/** The configuration blocks between their first line and the prose that follows them. */
export function extractGuideFiles(markdown: string): { haproxy: string; keepalived: string } {
  const lines = markdown.split('\n');
  const block = (first: string, end: (line: string) => boolean) => {
    const start = lines.findIndex((l) => l.startsWith(first));
    if (start < 0) throw new Error(`the guide has no block starting "${first}"`);
    const stop = lines.findIndex((l, i) => i > start && end(l));
    return `${lines.slice(start, stop < 0 ? undefined : stop).join('\n').trimEnd()}\n`;
  };
  return {
    haproxy: block('# /etc/haproxy/haproxy.cfg', (l) => /^Keepalived Configuration/.test(l)),
    keepalived: block('# /etc/keepalived/keepalived.conf', (l) => /^The VIP \(/.test(l)),
  };
}

export function guideFiles(): GuideFiles {
  if (existsSync(GUIDE)) return { ...extractGuideFiles(readFileSync(GUIDE, 'utf8')), from: GUIDE };
  const fixtures = join(ROOT, 'test/fixtures/doctor/bad');
  return { haproxy: readFileSync(join(fixtures, 'guide-haproxy.cfg'), 'utf8'), keepalived: readFileSync(join(fixtures, 'guide-keepalived.conf'), 'utf8'), from: fixtures };
}
