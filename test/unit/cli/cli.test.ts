// The CLI's one declaration: docs/cli.md names every command and option; usage errors are one line, a fix and
// exit 2; help and --version exit 0; a command is a typed function that runs without argv.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { validate } from '../../../src/cli/commands/validate.js';
import { createProgram, runProgram } from '../../../src/cli/program.js';
import { UserError } from '../../../src/errors.js';
import { CLI, requireOrSkip, ROOT, runCli, TSX } from '../../helpers/cli.js';

function sink(columns?: number): { stream: Writable; text(): string } {
  let text = '';
  const stream = new Writable({ write(chunk, _encoding, callback) { text += String(chunk); callback(); } });
  // A terminal of that many columns, as far as the program can tell.
  if (columns !== undefined) Object.assign(stream, { isTTY: true, columns });
  return { stream, text: () => text };
}

function io(columns?: number) {
  const out = sink(columns);
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

  it('help NAME for an unknown or partial command name: the unknown-command error, exit 2, no help dump', async () => {
    for (const name of ['serv', 'rende', 'nope']) {
      const result = await runIn(['help', name]);
      assert.equal(result.code, 2, name);
      assert.match(result.message ?? '', new RegExp(`^unknown command '${name}'`));
      assert.equal(result.stdout, '', 'no help printed before the error');
    }
    assert.match((await runIn(['help', 'serv'])).message ?? '', /\(Did you mean serve\?\)/);
    const viaMain = await runCli(['help', 'serv']);
    assert.equal(viaMain.code, 2);
    assert.equal(viaMain.stdout, '');
    assert.equal(viaMain.stderr, "error: unknown command 'serv'\n(Did you mean serve?)\n  fix: run cluster-endpoint --help to see the commands\n");
    const helpHelp = await runIn(['help', 'help']);
    assert.equal(helpHelp.code, 0);
    assert.match(helpHelp.stdout, /^Usage: cluster-endpoint/);
  });

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

describe('--json covers failures too', () => {
  const program = createProgram(io().io, { code: 0 });
  const withJson = program.commands.filter((c) => c.options.some((o) => o.long === '--json'));

  /** Runs argv in process with --json: the exit code, and what stdout holds. */
  async function runJson(argv: string[]): Promise<{ code: number; stdout: string; error?: { code: string; message: string } }> {
    const streams = io();
    let code: number;
    try {
      code = await runProgram(argv, streams.io);
    } catch (error) {
      code = (error as UserError).exitCode ?? 1;
    }
    return { code, stdout: streams.stdout() };
  }

  it('a usage error of every command that has --json is a JSON error object on stdout with its code', async () => {
    assert.ok(withJson.length >= 6, withJson.map((c) => c.name()).join(' '));
    for (const command of withJson) {
      const result = await runJson([command.name(), '--json', '--no-such-flag']);
      assert.equal(result.code, 2, command.name());
      const body = JSON.parse(result.stdout) as { error: { code: string; message: string; hint: string } };
      assert.deepEqual(Object.keys(body), ['error'], command.name());
      assert.equal(body.error.code, 'USAGE', command.name());
      assert.match(body.error.message, /unknown option '--no-such-flag'/);
      assert.ok(body.error.hint, 'with the fix');
    }
  });

  it('failures of the commands themselves: one JSON document with the code (real CLI: the line on stderr too)', async () => {
    const missing = join(ROOT, 'no-such-dir/endpoint.yaml');
    const closed = 'http://127.0.0.1:1'; // nothing listens on port 1 of loopback
    const cases: Array<[string[], string, number]> = [
      [['validate', '-c', missing, '--json'], 'SPEC_FILE', 2],
      [['probe', '-c', missing, '--json'], 'SPEC_FILE', 2],
      [['watch', '-c', join(ROOT, 'test/fixtures/doctor/bad/spec-invalid.endpoint.yaml'), '--json'], 'SPEC_ADDRESS', 2],
      [['doctor', missing, '--json'], 'USAGE', 2],
      [['status', '--admin', closed, '--json'], 'ADMIN_UNREACHABLE', 1],
      [['drain', 'cp-01', '--admin', closed, '--json'], 'ADMIN_UNREACHABLE', 1],
      [['undrain', 'cp-01', '--admin', closed, '--json'], 'ADMIN_UNREACHABLE', 1],
    ];
    for (const [argv, code, exit] of cases) {
      const result = await runJson(argv);
      assert.equal(result.code, exit, argv.join(' '));
      const body = JSON.parse(result.stdout) as { error?: { code: string; message: string } };
      assert.equal(body.error?.code, code, `${argv.join(' ')}: ${result.stdout}`);
      assert.ok(body.error?.message, 'with a message');
    }
    const viaMain = await runCli(['status', '--admin', closed, '--json']);
    assert.equal(viaMain.code, 1);
    assert.equal((JSON.parse(viaMain.stdout) as { error: { code: string } }).error.code, 'ADMIN_UNREACHABLE');
    assert.match(viaMain.stderr, /^error: no balancer answers on http:\/\/127\.0\.0\.1:1/);
  });
});

describe('help is wrapped once, at the terminal width', () => {
  /** Where the text of a line starts that its next line would continue: the description column, or the indent. */
  function textStart(line: string): number | undefined {
    const indent = line.length - line.trimStart().length;
    if (indent !== 2) return indent;
    const column = /^ {2}\S.*? {2,}(?=\S)/.exec(line);
    return column ? column[0].length : undefined; // a term alone on its line, or an example
  }

  /** Lines wider than `width` (unless one word), and lines that end before they had to: the next line's first word would have fitted. */
  function wrapProblems(text: string, width: number): string[] {
    const problems: string[] = [];
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const example = /^ {2}\$ /.test(line) || /\\$/.test(lines[i - 1] ?? '');
      if (line.length > width && !example && line.trim().includes(' ')) problems.push(`wider than ${width}: "${line}"`);
      const next = lines[i + 1];
      if (!next?.trim() || !line.trim() || example || /^[A-Z][\w ]*:( |$)/.test(line)) return;
      const start = textStart(line);
      const indent = next.length - next.trimStart().length;
      if (start === undefined || indent !== start || (start === 0 && /^[A-Z][\w ]*:$/.test(next))) return;
      const word = next.trim().split(' ')[0];
      if (line.length + 1 + word.length <= width) problems.push(`ragged at ${width}: "${line}" / "${next}"`);
    });
    return problems;
  }

  const names = ['', ...createProgram(io().io, { code: 0 }).commands.filter((c) => c.name() !== 'complete').map((c) => c.name())];

  it('every command, at any width from 40 to 200 columns', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...names), fc.integer({ min: 40, max: 200 }), async (name, columns) => {
      const streams = io(columns);
      assert.equal(await runProgram(name ? [name, '--help'] : ['--help'], streams.io), 0);
      const width = Math.min(columns, 100);
      assert.deepEqual(wrapProblems(streams.stdout(), width), [], `${name || '(program)'} --help at ${columns} columns:\n${streams.stdout()}`);
    }), { numRuns: 150 });
  });

  it('the check sees the ragged lines of text wrapped twice', () => {
    const twice = 'Usage: x\n\nRuns the built-in L4 balancer described by the spec: one frontend per listener,\nhealth checks,\nthe status page.\n';
    assert.equal(wrapProblems(twice, 80).length, 1);
  });

  it('a real terminal of 60 columns (script: a pseudo-terminal) gets help 60 columns wide', async (t) => {
    if (!requireOrSkip(t, existsSync('/usr/bin/script'), 'script (bsdutils) is not installed')) return;
    const command = [process.execPath, '--import', TSX, CLI, 'watch', '--help'].map((w) => `'${w}'`).join(' ');
    const { stdout } = await promisify(execFile)('script', ['-q', '-e', '-c', `stty cols 60; ${command}`, '/dev/null'], { cwd: ROOT, env: { ...process.env, COLUMNS: '' }, timeout: 60_000 });
    const help = stdout.replace(/\r/g, '');
    assert.match(help, /^Usage: cluster-endpoint watch/m);
    assert.deepEqual(wrapProblems(help, 60), [], help);
    assert.ok(help.split('\n').some((l) => l.length > 50), 'it uses the width');
  });

  it('$COLUMNS when the output is not a terminal; 100 columns at most', async () => {
    const saved = process.env.COLUMNS;
    try {
      process.env.COLUMNS = '60';
      const narrow = io();
      await runProgram(['serve', '--help'], narrow.io);
      assert.ok(narrow.stdout().split('\n').every((l) => l.length <= 60), narrow.stdout());
      process.env.COLUMNS = '300';
      const wide = io();
      await runProgram(['serve', '--help'], wide.io);
      const longest = Math.max(...wide.stdout().split('\n').map((l) => l.length));
      assert.ok(longest > 80 && longest <= 100, `longest line ${longest}`);
    } finally {
      if (saved === undefined) delete process.env.COLUMNS; else process.env.COLUMNS = saved;
    }
  });
});
