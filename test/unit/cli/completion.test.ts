// Shell completion from the CLI's one declaration: the callback protocol, and the scripts in real bash, zsh
// (driven in a pseudo-terminal with zpty) and fish. Node names, listeners and VIP peers come from the spec.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { runProgram } from '../../../src/cli/program.js';
import { RENDERERS } from '../../../src/render/index.js';
import { CLI, requireOrSkip, runCli, TSX } from '../../helpers/cli.js';

const run = promisify(execFile);

/** The candidates (first column) and the directive of one `complete -- WORDS` call, run in process. */
async function complete(...words: string[]): Promise<{ values: string[]; directive: number }> {
  return completeIn(undefined, ...words);
}

/** The same, from the directory `cwd` (where ./endpoint.yaml and relative -c paths are looked for). */
async function completeIn(cwd: string | undefined, ...words: string[]): Promise<{ values: string[]; directive: number }> {
  let stdout = '';
  const io = { stdout: new Writable({ write(chunk, _encoding, callback) { stdout += String(chunk); callback(); } }), stderr: new Writable({ write(_chunk, _encoding, callback) { callback(); } }) };
  const home = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    assert.equal(await runProgram(['complete', '--', ...words], io), 0);
  } finally {
    process.chdir(home);
  }
  const lines = stdout.trimEnd().split('\n');
  const directive = Number(lines.pop()!.slice(1));
  return { values: lines.filter(Boolean).map((l) => l.split('\t')[0]), directive };
}

const SPEC = `cluster: { name: lab }
endpoint: 192.168.30.30
controlPlane:
  - { name: cp-01, address: 192.168.30.31 }
  - { name: cp-02, address: 192.168.30.32 }
workers:
  - { name: wk-01, address: 192.168.30.41 }
listeners:
  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane }
  - { name: talos, port: 50000, targetPort: 50000, targets: controlPlane }
  - { name: talos-workers, port: 50001, targetPort: 50000, targets: workers }
  - { name: etcd-metrics, port: 2381, targetPort: 2381, targets: controlPlane }
vip:
  address: 192.168.30.30
  authKey: secret12
  peers:
    - { name: lb-01, address: 192.168.30.11, priority: 100 }
    - { name: lb-02, address: 192.168.30.12, priority: 90 }
`;
const NODES = ['cp-01', 'cp-02', 'wk-01'];
const LISTENERS = ['kubernetes', 'talos', 'talos-workers', 'etcd-metrics'];
const PEERS = ['lb-01', 'lb-02'];

async function has(command: string): Promise<boolean> {
  try { await run('sh', ['-c', `command -v ${command}`]); return true; } catch { return false; }
}

describe('completion', () => {
  // A `cluster-endpoint` on PATH for the shells to call back (the scripts run the program by name), run in the
  // shell's own directory: that is where ./endpoint.yaml and relative -c paths are found.
  const bin = mkdtempSync(join(tmpdir(), 'ce-completion-'));
  after(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'cluster-endpoint'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(TSX)} ${JSON.stringify(CLI)} "$@"\n`);
  chmodSync(join(bin, 'cluster-endpoint'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  // A directory with an endpoint.yaml (the default spec), and the same spec elsewhere for -c.
  const cluster = join(bin, 'cluster');
  const other = join(bin, 'other');
  for (const dir of [cluster, other]) mkdirSync(dir);
  writeFileSync(join(cluster, 'endpoint.yaml'), SPEC);
  writeFileSync(join(other, 'lab.yaml'), SPEC);

  it('offers commands, options, choices and render targets from the declaration', async () => {
    const commands = await complete('');
    for (const name of ['serve', 'validate', 'render', 'probe', 'doctor', 'completion']) assert.ok(commands.values.includes(name), name);
    assert.equal(commands.values.includes('complete'), false, 'the callback command stays hidden');
    assert.deepEqual((await complete('render', '')).values, [...Object.keys(RENDERERS), 'all']);
    assert.deepEqual((await complete('serve', '--log-level', '')).values, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
    const options = await complete('validate', '--');
    assert.deepEqual(options.values.sort(), ['--config', '--help', '--json']);
    assert.equal(options.directive, 4, 'no file names among options');
    assert.deepEqual((await complete('completion', '')).values.filter((s) => s !== 'powershell'), ['zsh', 'bash', 'fish']);
  });

  it('leaves paths to the shell: spec files, output directories, doctor files', async () => {
    for (const words of [['validate', '-c', ''], ['render', 'haproxy', '--output', 'ou'], ['probe', '--kubeconfig', ''], ['doctor', ''], ['validate', '--config=end']]) {
      assert.deepEqual(await complete(...words), { values: [], directive: 0 }, words.join(' '));
    }
  });

  it('offers node names, listeners and peers from the spec: -c FILE, else ./endpoint.yaml', async () => {
    const file = join(other, 'lab.yaml');
    assert.deepEqual((await completeIn(other, 'drain', '-c', 'lab.yaml', '')).values, NODES);
    assert.deepEqual((await completeIn(cluster, 'drain', '')).values, NODES);
    assert.deepEqual((await completeIn(cluster, 'undrain', 'cp')).values, ['cp-01', 'cp-02']);
    assert.deepEqual((await completeIn(cluster, 'drain', 'cp-01', '--listener', '')).values, LISTENERS);
    assert.deepEqual((await completeIn(bin, 'watch', `--config=${file}`, '--listener', 'talos')).values, ['talos', 'talos-workers']);
    assert.deepEqual((await completeIn(cluster, 'serve', '--peer', '')).values, PEERS);
    assert.deepEqual((await completeIn(bin, 'serve', '-c', file, '--peer', '')).values, PEERS);
    assert.deepEqual((await completeIn(cluster, 'probe', '--endpoint', '192.168.30.30', '--listener', 'talos-w')).values, ['talos-workers=50001:50000']);
    assert.deepEqual((await completeIn(cluster, 'probe', '--endpoint', '192.168.30.30', '--node', '')).values, ['cp-01=192.168.30.31', 'cp-02=192.168.30.32', 'wk-01=192.168.30.41']);
    // No spec, or one that does not parse: nothing offered, and no error.
    assert.deepEqual((await completeIn(bin, 'drain', '')).values, []);
    writeFileSync(join(other, 'broken.yaml'), 'cluster: [');
    assert.deepEqual((await completeIn(other, 'serve', '-c', 'broken.yaml', '--peer', '')).values, []);
  });

  // Each shell runs our script and calls the program back; one session per shell keeps the test quick.
  it('bash: render targets, options, node names, listeners and peers; file names as the fallback', async (t) => {
    if (!requireOrSkip(t, existsSync('/usr/share/bash-completion/bash_completion'), 'bash-completion is not installed')) return;
    const ask = (label: string, line: string) => {
      const words = line.split(' ');
      return `COMP_LINE=${JSON.stringify(line)}; COMP_POINT=\${#COMP_LINE}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; __cluster_endpoint_complete; echo "${label}: \${COMPREPLY[*]}"`;
    };
    const script = [
      'source /usr/share/bash-completion/bash_completion',
      'source <(cluster-endpoint completion bash)',
      'complete -p cluster-endpoint',
      ask('targets', 'cluster-endpoint render ha'),
      ask('options', 'cluster-endpoint validate --j'),
      ask('nodes', 'cluster-endpoint drain '),
      ask('some', 'cluster-endpoint undrain cp-'),
      ask('listeners', 'cluster-endpoint watch --listener '),
      ask('peers', `cluster-endpoint serve -c ${join(other, 'lab.yaml')} --peer `),
    ].join('\n');
    const { stdout } = await run('bash', ['-c', script], { env, cwd: cluster });
    assert.match(stdout, /^complete -o default -F __cluster_endpoint_complete cluster-endpoint$/m);
    assert.match(stdout, /^targets: haproxy$/m);
    assert.match(stdout, /^options: --json$/m);
    assert.match(stdout, new RegExp(`^nodes: ${NODES.join(' ')}$`, 'm'));
    assert.match(stdout, /^some: cp-01 cp-02$/m);
    assert.match(stdout, new RegExp(`^listeners: ${LISTENERS.join(' ')}$`, 'm'));
    assert.match(stdout, new RegExp(`^peers: ${PEERS.join(' ')}$`, 'm'));
  });

  it('fish: render targets, options, node names, listeners and peers (complete -C)', async (t) => {
    if (!requireOrSkip(t, await has('fish'), 'fish is not installed')) return;
    const lines = ['cluster-endpoint render pro', 'cluster-endpoint validate --js', 'cluster-endpoint drain ', 'cluster-endpoint watch --listener ', 'cluster-endpoint serve --peer lb'];
    const asks = lines.map((line) => `complete -C ${JSON.stringify(line)}; echo ===`);
    const { stdout } = await run('fish', ['--no-config', '-c', `cluster-endpoint completion fish | source; ${asks.join('; ')}`], { env, cwd: cluster });
    const [targets, options, nodes, listeners, peers] = stdout.split('===\n').map((block) => block.split('\n').filter(Boolean).map((l) => l.split('\t')[0]));
    assert.deepEqual(targets, ['prometheus']);
    assert.deepEqual(options, ['--json']);
    // fish sorts the candidates itself.
    assert.deepEqual(nodes, [...NODES].sort());
    assert.deepEqual(listeners, [...LISTENERS].sort());
    assert.deepEqual(peers, [...PEERS].sort());
  });

  it('zsh: render targets, node names, listeners and peers, typed with TAB at a real zsh prompt (zpty)', async (t) => {
    if (!requireOrSkip(t, await has('zsh'), 'zsh is not installed')) return;
    const script = (await runCli(['completion', 'zsh'])).stdout;
    assert.match(script, /^#compdef cluster-endpoint/);
    const fpath = join(bin, 'zsh-functions');
    mkdirSync(fpath, { recursive: true });
    writeFileSync(join(fpath, '_cluster-endpoint'), script);
    const lines = ['cluster-endpoint render pro', 'cluster-endpoint drain ', 'cluster-endpoint watch --listener ', 'cluster-endpoint serve --peer '];
    assert.deepEqual(await zshCandidates(lines, { fpath, cwd: cluster, env }), [['prometheus'], NODES, LISTENERS, PEERS].map((c) => [...c].sort()));
  });

  it('an unknown shell is a usage error', async () => {
    const result = await runCli(['completion', 'tcsh']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: command-argument value 'tcsh' is invalid for argument 'shell'/);
  });
});

/**
 * The candidates zsh's completion system offers for each line + TAB, typed into an interactive zsh inside a
 * pseudo-terminal (zsh/zpty) with our script on fpath and compinit loaded. compadd is wrapped to print what
 * it is given (after zsh's own matching); a function in comppostfuncs marks the end of each completion, and
 * Ctrl-U clears the line for the next one.
 */
async function zshCandidates(lines: readonly string[], o: { fpath: string; cwd: string; env: NodeJS.ProcessEnv }): Promise<string[][]> {
  const driver = [
    'zmodload zsh/zpty',
    'zpty -b shell zsh -f -i',
    `zpty -w shell 'PS1=""; RPS1=""'`,
    `zpty -w shell ${quote(`fpath=(${o.fpath} $fpath); autoload -Uz compinit; compinit -u -D; cd ${o.cwd}`)}`,
    `zpty -w shell 'compadd() { local -a m; builtin compadd -O m "$@"; (( $#m )) && print -r -l -- "candidate:"$^m; builtin compadd "$@" }'`,
    `zpty -w shell 'mark-end() { print -r -- "completion-"done }; bindkey "^I" complete-word'`,
    // zsh empties comppostfuncs after each completion: set it again before each line.
    ...lines.flatMap((line) => [`zpty -w shell 'comppostfuncs=(mark-end)'`, `zpty -w -n shell ${quote(`${line}\t`)}`, `zpty -r shell out '*completion-done*'`, `print -r -- "$out"; print -r -- '==='`, `zpty -w -n shell $'\\x15'`]),
    'zpty -d shell',
  ].join('\n');
  const { stdout } = await run('zsh', ['-f', '-c', driver], { env: o.env, timeout: 90_000 });
  // The typed lines are echoed too: the wrapper's own text has a quote after "candidate:", a candidate never does.
  return stdout.split('===\n').slice(0, lines.length).map((block) => [...new Set([...block.matchAll(/candidate:([^\s"]+)/g)].map((m) => m[1]))].sort());
}

/** A zsh $'...' string. */
function quote(text: string): string {
  return `$'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\t/g, '\\t')}'`;
}
