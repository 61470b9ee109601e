import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { shellQuote, ShellRunner } from '../../../src/vip/announcers/shell-runner.js';

describe('ShellRunner', () => {
  it('runs commands in order through one shell, with quoting, exit codes and missing commands', async () => {
    const runner = new ShellRunner();
    try {
      const [a, b, c, d] = await Promise.all([
        runner.run('printf', ['%s|', 'a b', "it's", '$HOME', '`x`']),
        runner.run('false', []),
        runner.run('no-such-command-cluster-endpoint', []),
        runner.run('sh', ['-c', 'echo out; echo err >&2; exit 3']),
      ]);
      assert.deepEqual([a.code, a.stdout], [0, "a b|it's|$HOME|`x`|"]);
      assert.equal(b.code, 1);
      assert.equal(c.missing, true);
      assert.deepEqual([d.code, d.stdout], [3, 'out\nerr']);
      const started = Date.now();
      await runner.runInBackground('sleep', ['2']);
      assert.ok(Date.now() - started < 1000, 'background commands are not waited for');
    } finally {
      runner.close();
    }
  });

  it('quotes only what needs quoting', () => {
    assert.equal(shellQuote('10.0.0.1/24'), '10.0.0.1/24');
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  });
});
