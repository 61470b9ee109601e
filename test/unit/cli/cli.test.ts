// The CLI's one declaration: docs/cli.md names every command and option; usage errors are one line, a fix and
// exit 2; help and --version exit 0; a command is a typed function that runs without argv.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { validate } from '../../../src/cli/commands/validate.js';
import { createProgram, runProgram } from '../../../src/cli/program.js';
import { UserError } from '../../../src/errors.js';
import { ROOT, runCli } from '../../helpers/cli.js';

function sink(): { stream: Writable; text(): string } {
  let text = '';
  return { stream: new Writable({ write(chunk, _encoding, callback) { text += String(chunk); callback(); } }), text: () => text };
}

function io() {
  const out = sink();
  const err = sink();
  return { io: { stdout: out.stream, stderr: err.stream }, stdout: out.text, stderr: err.text };
}

/** Runs argv in process; a UserError becomes its exit code and message. */
async function runIn(argv: string[]): Promise<{ code: number; stdout: string; message?: string; hint?: string }> {
  const streams = io();
  try {
    return { code: await runProgram(argv, streams.io), stdout: streams.stdout() };
  } catch (error) {
    assert.ok(error instanceof UserError, String(error));
    return { code: error.exitCode, stdout: streams.stdout(), message: error.message, hint: error.hint };
  }
}

describe('the CLI declaration', () => {
  const program = createProgram(io().io, { code: 0 });
  const commands = program.commands.filter((c) => c.name() !== 'complete');

  it('docs/cli.md names every command and every option', () => {
    const docs = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    const optionsTable = docs.slice(docs.indexOf('## Options of every command'), docs.indexOf('## Errors and exit codes')).split('\n');
    for (const command of commands) {
      assert.match(docs, new RegExp(`^\\| \`${command.name()}[ \`]`, 'm'), `command ${command.name()}`);
      const row = optionsTable.find((line) => line.startsWith(`| \`${command.name()}`));
      assert.ok(row, `${command.name()} has a row in the options table`);
      for (const option of command.options) assert.ok(row?.includes(`\`${option.short ? `${option.short}, ` : ''}${option.long}`), `${command.name()} ${option.flags} in the options table`);
    }
  });

  it('every command has a summary, and help with its options', async () => {
    for (const command of commands) {
      assert.ok(command.summary() || command.description(), command.name());
      const help = await runIn([command.name(), '--help']);
      assert.equal(help.code, 0, command.name());
      for (const option of command.options) assert.ok(help.stdout.includes(option.long!), `${command.name()} --help shows ${option.long}`);
    }
  });
});

describe('usage errors', () => {
  const cases: Array<[string[], RegExp]> = [
    [['validate', '--jsn'], /^unknown option '--jsn'\n\(Did you mean --json\?\)$/],
    [['valdate'], /^unknown command 'valdate'/],
    [['probe', '-c', 'x.yaml', '--endpoint', '10.0.0.1'], /^option '--endpoint <host>' cannot be used with option '-c, --config <file>'$/],
    [['watch', '--endpoint', '10.0.0.1', '--listener', 'kubernetes'], /cannot be used with option '--listener <name>'/],
    [['render', 'haproxy', '-o', 'x', '--check', '--kubeconfig', 'k'], /^option '--check' cannot be used with option '--kubeconfig <file>'$/],
    [['drain'], /^drain needs the node name$/],
    [['render', 'nginx', '-o', 'x'], /^unknown render target "nginx"$/],
    [['serve', '--log-level', 'loud'], /Allowed choices are fatal, error, warn, info, debug, trace, silent/],
    [['watch', '--duration', 'soon'], /^--duration "soon" is not a duration$/],
    [['undrain', 'cp-01', '--maint'], /^unknown option '--maint'$/],
  ];
  for (const [argv, message] of cases) {
    it(`${argv.join(' ')} → exit 2 and a fix`, async () => {
      const result = await runIn(argv);
      assert.equal(result.code, 2);
      assert.match(result.message ?? '', message);
      assert.ok(result.hint, 'has a fix');
    });
  }

  it('help, --version and no command at all', async () => {
    assert.equal((await runIn(['--help'])).code, 0);
    assert.equal((await runIn(['help', 'render'])).code, 0);
    const version = await runIn(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    const none = await runIn([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /^Usage: cluster-endpoint/);
  });

  it('through main: one line, the fix, exit 2, no stack trace', async () => {
    const result = await runCli(['validate', '--bogus']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "error: unknown option '--bogus'\n  fix: run cluster-endpoint validate --help to see the options\n");
  });
});

describe('a command is a typed async function', () => {
  it('validate runs without argv', async () => {
    const streams = io();
    assert.equal(await validate({ config: join(ROOT, 'examples/endpoint.yaml') }, streams.io), 0);
    assert.match(streams.stdout(), /valid — 3 listener\(s\)/);
    const invalid = io();
    assert.equal(await validate({ config: join(ROOT, 'test/fixtures/doctor/bad/spec-invalid.endpoint.yaml'), json: true }, invalid.io), 2);
    assert.equal((JSON.parse(invalid.stdout()) as { valid: boolean }).valid, false);
  });
});
