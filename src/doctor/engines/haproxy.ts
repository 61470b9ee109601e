// haproxy -c: HAProxy's own configuration check. -dr turns "could not resolve" into a warning, so a host
// name that only resolves where HAProxy runs does not stop the check.
import type { HaproxyFile } from '../context.js';
import type { RuleFinding } from '../finding.js';
import { proxies } from '../parsers/haproxy.js';
import { engineFinding, run, type Engine } from './engine.js';

const SOURCE = 'haproxy(1) -c; https://docs.haproxy.org/2.6/management.html#3';

/** Messages about the machine rather than the file: missing users, files, certificates, names. */
const ENVIRONMENT = /cannot find (user|group) id|no such file|error opening file|unable to stat|couldn't open|unable to load|could not resolve address|can't (open|load)|cannot open/i;

/** Summaries that repeat what the lines above said. */
const SUMMARY = /^(Error\(s\) found in configuration file|Fatal errors found in configuration|Failed to initialize server\(s\) addr)/;

export const haproxyEngine: Engine = {
  id: 'haproxy/haproxy-c',
  kind: 'haproxy',
  binary: 'haproxy',
  name: 'haproxy -c',
  async check(file, copy) {
    const output = await run('haproxy', ['-c', '-dr', '-f', copy]);
    return parseHaproxyCheck(`${output.stdout}\n${output.stderr}`, copy, file as HaproxyFile);
  },
};

/** `[ALERT] (pid) : config : parsing [file:12] : message` → a finding at line 12; continuation lines (` | ...`) are dropped. */
export function parseHaproxyCheck(output: string, path: string, file: HaproxyFile): RuleFinding[] {
  const found: RuleFinding[] = [];
  for (const raw of output.split('\n')) {
    const match = /^\[(ALERT|WARNING)\]\s+\(\d+\)\s+:\s+(?:config\s+:\s+)?(.*)$/.exec(raw.trim());
    if (!match) continue;
    let message = match[2].trim();
    if (SUMMARY.test(message)) continue;
    let line: number | undefined;
    const located = /^(?:parsing\s+)?\[([^\]]+):(\d+)\]\s*:\s*(.*)$/.exec(message);
    if (located && located[1].endsWith(path.split('/').at(-1) ?? '')) {
      line = Number(located[2]);
      message = located[3];
    }
    line ??= lineOfProxyNamed(file, message);
    found.push(engineFinding('haproxy -c', match[1] === 'ALERT' ? 'error' : 'warning', line, message.replace(/\s*\|.*$/, ''), ENVIRONMENT.test(message), SOURCE));
  }
  return found;
}

/** "missing timeouts for frontend 'api'" → the line of frontend api; else line 1. */
function lineOfProxyNamed(file: HaproxyFile, message: string): number {
  const named = /(?:frontend|backend|listen|proxy)\s+'([^']+)'/.exec(message);
  return (named && proxies(file.config).find((p) => p.name === named[1])?.line) || 1;
}
