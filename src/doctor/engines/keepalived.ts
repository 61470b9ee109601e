// keepalived -t: keepalived's own configuration check. It fails on interfaces the machine lacks, so it runs
// in a scratch network namespace that has a link of every interface name the file uses (root only).
import type { KeepalivedFile } from '../context.js';
import type { RuleFinding } from '../finding.js';
import { topLevel, type KeepalivedNode } from '../parsers/keepalived.js';
import { engineFinding, run, type Engine } from './engine.js';

const SOURCE = 'keepalived(8) --config-test; keepalived.conf(5)';

/** Messages about the machine rather than the file: scripts, users and files that exist only where it is deployed. */
const ENVIRONMENT = /not found\/accessible|not accessible|error setting global script uid|unable to set default user|cannot find user|doesn't exist|non-existent interface|unable to access|no such file/i;

let namespaces = 0;

export const keepalivedEngine: Engine = {
  id: 'keepalived/keepalived-t',
  kind: 'keepalived',
  binary: 'keepalived',
  name: 'keepalived -t',
  unavailable() {
    return process.getuid?.() === 0 ? undefined : 'keepalived -t needs root here (it runs in a scratch network namespace with the interfaces the file names)';
  },
  async check(file, copy) {
    const config = (file as KeepalivedFile).config;
    const ns = `ce-doctor-${process.pid}-${++namespaces}`;
    const created = await run('ip', ['netns', 'add', ns]);
    if (created.code !== 0) return [engineFinding('keepalived -t', 'info', 1, `could not create a network namespace (${created.stderr.trim()})`, true, SOURCE)];
    try {
      let peer = 0;
      for (const name of interfaceNames(config.nodes)) {
        // A name the kernel refuses stays missing; keepalived then reports it, as an environment finding.
        await run('ip', ['-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `cedoc${++peer}`]);
      }
      const output = await run('ip', ['netns', 'exec', ns, 'keepalived', '-t', '-e', '-l', '-f', copy]);
      return parseKeepalivedCheck(`${output.stderr}\n${output.stdout}`, file as KeepalivedFile);
    } finally {
      await run('ip', ['netns', 'del', ns]);
    }
  },
};

/** Interface names the file uses: `interface X`, `dev X`, and the entries of track_interface / interface lists. */
export function interfaceNames(nodes: KeepalivedNode[]): string[] {
  const names = new Set<string>();
  const visit = (node: KeepalivedNode, parent?: KeepalivedNode) => {
    if ((node.keyword === 'interface' || node.keyword === 'default_interface' || node.keyword === 'lvs_sync_daemon') && node.args[0]) names.add(node.args[0]);
    if (parent && ['track_interface', 'linkbeat_interfaces', 'interfaces'].includes(parent.keyword)) names.add(node.keyword);
    const words = [node.keyword, ...node.args];
    words.forEach((word, i) => { if (word === 'dev' && words[i + 1]) names.add(words[i + 1]); });
    for (const child of node.children) visit(child, node);
  };
  for (const node of nodes) visit(node);
  return [...names].filter((n) => /^[A-Za-z0-9_.@-]{1,15}$/.test(n));
}

/**
 * `(file: Line 9) Unknown keyword 'priorty'` → a finding at line 9. Lines without a position are placed at
 * the instance they name. A "track script X not found" that follows an environment problem with script X
 * (missing file, user) is that same environment problem.
 */
export function parseKeepalivedCheck(output: string, file: KeepalivedFile): RuleFinding[] {
  const found: RuleFinding[] = [];
  const environmentScripts = new Set<string>();
  for (const raw of output.split('\n')) {
    let message = raw.trim();
    if (!message) continue;
    let line: number | undefined;
    const located = /^\((?:[^:)]*:\s*)?Line (\d+)\)\s*(.*)$/.exec(message);
    if (located) {
      line = Number(located[1]);
      message = located[2];
    }
    const script = /(?:track script|vrrp script|script) (\S+)/.exec(message)?.[1];
    let environment = ENVIRONMENT.test(message);
    if (environment && script) environmentScripts.add(script);
    if (!environment && script && /not found, ignoring/.test(message) && environmentScripts.has(script)) environment = true;
    line ??= lineOfInstanceNamed(file, message);
    const severity = /^WARNING|SECURITY VIOLATION|Truncating/i.test(message) ? 'warning' : 'error';
    found.push(engineFinding('keepalived -t', severity, line, message, environment, SOURCE));
  }
  return found;
}

/** "VI_1 and VI_2 both use VRID 51 ..." → the second instance; "(VI_1) ..." → VI_1; "track script chk ..." → vrrp_script chk; else line 1. */
function lineOfInstanceNamed(file: KeepalivedFile, message: string): number {
  const scripts = topLevel(file.config, 'vrrp_script');
  if (/SECURITY VIOLATION/.test(message)) return scripts[0]?.line ?? 1;
  const script = /track script (\S+)/.exec(message)?.[1];
  if (script && !/^\(/.test(message)) return scripts.find((s) => s.args[0] === script)?.line ?? 1;
  const both = /^(\S+) and (\S+) both use VRID/.exec(message);
  const name = both ? both[2] : /^\(([^)]+)\)/.exec(message)?.[1];
  return topLevel(file.config, 'vrrp_instance').find((i) => i.args[0] === name)?.line ?? 1;
}
