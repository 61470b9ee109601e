// Shell completion from the CLI's one declaration: the callback protocol, and the scripts in real bash and fish
// (zsh: the script parses).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RENDERERS } from '../../../src/render/index.js';
import { CLI, requireOrSkip, ROOT, runCli } from '../../helpers/cli.js';

const run = promisify(execFile);

/** The candidates (first column) and the directive of one `complete -- WORDS` call. */
async function complete(...words: string[]): Promise<{ values: string[]; directive: number }> {
  const result = await runCli(['complete', '--', ...words]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  const directive = Number(lines.pop()!.slice(1));
  return { values: lines.filter(Boolean).map((l) => l.split('\t')[0]), directive };
}

async function has(command: string): Promise<boolean> {
  try { await run('sh', ['-c', `command -v ${command}`]); return true; } catch { return false; }
}

describe('completion', () => {
  // A `cluster-endpoint` on PATH for the shells to call back (the scripts run the program by name).
  const bin = mkdtempSync(join(tmpdir(), 'ce-completion-'));
  after(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'cluster-endpoint'), `#!/bin/sh\ncd ${JSON.stringify(ROOT)} && exec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(CLI)} "$@"\n`);
  chmodSync(join(bin, 'cluster-endpoint'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

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

  it('bash: the script completes render targets and falls back to file names', async (t) => {
    if (!requireOrSkip(t, existsSync('/usr/share/bash-completion/bash_completion'), 'bash-completion is not installed')) return;
    const script = [
      'source /usr/share/bash-completion/bash_completion',
      'source <(cluster-endpoint completion bash)',
      'complete -p cluster-endpoint',
      'COMP_LINE="cluster-endpoint render ha"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(cluster-endpoint render ha); COMP_CWORD=2',
      '__cluster_endpoint_complete; echo "targets: ${COMPREPLY[*]}"',
      'COMP_LINE="cluster-endpoint validate --j"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(cluster-endpoint validate --j); COMP_CWORD=2',
      '__cluster_endpoint_complete; echo "options: ${COMPREPLY[*]}"',
    ].join('\n');
    const { stdout } = await run('bash', ['-c', script], { env });
    assert.match(stdout, /^complete -o default -F __cluster_endpoint_complete cluster-endpoint$/m);
    assert.match(stdout, /^targets: haproxy$/m);
    assert.match(stdout, /^options: --json$/m);
  });

  it('fish: complete -C lists targets and options', async (t) => {
    if (!requireOrSkip(t, await has('fish'), 'fish is not installed')) return;
    const { stdout } = await run('fish', ['--no-config', '-c', 'cluster-endpoint completion fish | source; complete -C "cluster-endpoint render pro"; complete -C "cluster-endpoint validate --js"'], { env });
    assert.match(stdout, /^prometheus\b/m);
    assert.match(stdout, /^--json\b/m);
  });

  it('zsh: the script parses', async (t) => {
    if (!requireOrSkip(t, await has('zsh'), 'zsh is not installed')) return;
    const script = (await runCli(['completion', 'zsh'])).stdout;
    assert.match(script, /^#compdef cluster-endpoint/);
    const file = join(bin, '_cluster-endpoint');
    writeFileSync(file, script);
    await run('zsh', ['-n', file]);
  });

  it('an unknown shell is a usage error', async () => {
    const result = await runCli(['completion', 'tcsh']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: command-argument value 'tcsh' is invalid for argument 'shell'/);
  });
});
