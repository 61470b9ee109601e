// `cluster-endpoint demo` as a user runs it: a child process driven over stdin, real kubectl through the
// balancer, a node stopped and started, the balancer's view read from its admin API, and a clean exit.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { findOnPath } from '../../../src/path.js';
import { UserError } from '../../../src/errors.js';
import type { StatusSnapshot } from '../../../src/runtime/snapshot.js';
import { loadSpecFile } from '../../../src/spec/load.js';
import { requireOrSkip, runCli } from '../../helpers/cli.js';
import { canConnect, waitFor } from '../../helpers/net.js';
import { exitCode, startDemoProcess, status } from './demo-process.js';

const KUBECTL = findOnPath('kubectl');

function kubectl(kubeconfig: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(KUBECTL!, ['--kubeconfig', kubeconfig, ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function serverState(snapshot: StatusSnapshot, listener: string, server: string): string | undefined {
  return snapshot.listeners.find((l) => l.name === listener)?.servers.find((s) => s.name === server)?.state;
}

describe('cluster-endpoint demo', () => {
  it('serves kubectl through the balancer, fails over when a node stops, and quits cleanly', async (t) => {
    if (!requireOrSkip(t, KUBECTL !== undefined, 'kubectl is not installed')) return;
    const demo = await startDemoProcess([]);
    try {
      await demo.expect(/ready: 3\/3 kubernetes servers up/);
      const dir = dirname(demo.kubeconfig);
      assert.ok(existsSync(join(dir, 'endpoint.yaml')) && existsSync(join(dir, 'ca.crt')));

      // Real kubectl, verifying the node certificates with the demo CA, through the balancer.
      const readyz = await kubectl(demo.kubeconfig, 'get', '--raw', '/readyz');
      assert.equal(readyz.code, 0, readyz.stderr);
      assert.equal(readyz.stdout.trim(), 'ok');
      const version = await kubectl(demo.kubeconfig, 'version', '-o', 'json');
      assert.equal(version.code, 0, version.stderr);
      assert.match((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, /^v1\.\d+\.\d+\+cp-0[123]$/);
      // Round robin over new connections: three kubectl runs reach three nodes.
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const node = await kubectl(demo.kubeconfig, 'get', '--raw', '/demo/node');
        assert.equal(node.code, 0, node.stderr);
        seen.add((JSON.parse(node.stdout) as { node: string }).node);
      }
      assert.deepEqual([...seen].sort(), ['cp-01', 'cp-02', 'cp-03']);

      // Stop cp-01: the balancer marks it down on both listeners; kubectl keeps working via the others.
      let mark = demo.output().length;
      demo.send('stop cp-01');
      await demo.expect(/cp-01 stopped/, 5000, mark);
      await demo.expect(/cp-01 kubernetes: up → down \(.+\)/, 10_000, mark);
      const down = await waitFor(async () => {
        const s = await status(demo.statusUrl);
        return serverState(s, 'kubernetes', 'cp-01') === 'down' && serverState(s, 'talos', 'cp-01') === 'down' && s;
      }, 10_000, 100);
      assert.ok(down, 'the admin API shows cp-01 down on kubernetes and talos');
      for (let i = 0; i < 4; i++) {
        const node = await kubectl(demo.kubeconfig, 'get', '--raw', '/demo/node');
        assert.equal(node.code, 0, node.stderr);
        assert.notEqual((JSON.parse(node.stdout) as { node: string }).node, 'cp-01');
      }
      assert.equal((await kubectl(demo.kubeconfig, 'get', '--raw', '/readyz')).stdout.trim(), 'ok');

      mark = demo.output().length;
      demo.send('status');
      await demo.expect(/kubernetes :\d+\s+cp-01 127\.0\.0\.31:\d+\s+stopped\s+down/, 5000, mark);

      // Start it again: marked up.
      mark = demo.output().length;
      demo.send('start cp-01');
      await demo.expect(/cp-01 kubernetes: down → up/, 10_000, mark);
      assert.ok(await waitFor(async () => serverState(await status(demo.statusUrl), 'kubernetes', 'cp-01') === 'up', 10_000, 100));

      // Mistakes get one line and the demo goes on.
      mark = demo.output().length;
      demo.send('stop cp-09');
      await demo.expect(/error: no node "cp-09"/, 5000, mark);

      const ports = new URL(demo.kubernetesUrl);
      demo.send('quit');
      assert.equal(await exitCode(demo, 10_000), 0);
      assert.match(demo.output(), /stopping \(quit\)\n.*stopped\n$/);
      // Nothing is left listening, and the temporary directory is gone.
      assert.equal(await canConnect(ports.hostname, Number(ports.port)), false);
      const [, nodeHost, nodePort] = /cp-01\s+kubernetes (\S+):(\d+)/.exec(demo.output())!;
      assert.equal(await canConnect(nodeHost, Number(nodePort)), false);
      assert.equal(await canConnect(new URL(demo.statusUrl).hostname, Number(new URL(demo.statusUrl).port)), false);
      assert.equal(existsSync(dir), false);
    } finally {
      demo.child.kill('SIGKILL');
    }
  });

  it('--no-input --tour stops and restarts a node by itself and exits 0', async () => {
    const demo = await startDemoProcess(['--no-input', '--tour']);
    try {
      const code = await exitCode(demo, 40_000);
      assert.equal(code, 0, demo.output());
      const out = demo.output();
      assert.match(out, /tour: stopping cp-01/);
      assert.match(out, /cp-01 kubernetes: up → down/);
      assert.match(out, /tour: the balancer marked cp-01 down \d+\.\ds after it stopped/);
      assert.match(out, /tour: the balancer marked cp-01 up \d+\.\ds after it started/);
      // Back in the rotation once marked up.
      assert.match(out.slice(out.indexOf('marked cp-01 up')), /tour: 6 requests to \S+, one connection each: .*cp-01 ok/);
      assert.match(out, /tour: tour done/);
      // Once cp-01 is marked down, every request is answered by another node.
      const afterDown = out.slice(out.indexOf('marked cp-01 down'));
      const requests = /tour: 3 requests to \S+, one connection each: (.+)/.exec(afterDown);
      assert.ok(requests);
      assert.doesNotMatch(requests[1], /cp-01|failed/);
      assert.match(out, /stopping \(tour done\)/);
    } finally {
      demo.child.kill('SIGKILL');
    }
  });

  it('keeps --dir, writes a valid spec there, and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-dir-'));
    const demo = await startDemoProcess(['--dir', dir, '--no-input']);
    try {
      assert.equal(demo.kubeconfig, join(dir, 'kubeconfig'));
      await demo.expect(/ready: 3\/3/);
      const spec = await loadSpecFile(join(dir, 'endpoint.yaml'));
      assert.deepEqual(spec.problems, []);
      assert.match(await readFile(join(dir, 'ca.crt'), 'utf8'), /BEGIN CERTIFICATE/);
      demo.child.kill('SIGTERM');
      assert.equal(await exitCode(demo, 10_000), 0);
      assert.match(demo.output(), /stopping \(SIGTERM\)/);
      assert.ok(existsSync(join(dir, 'endpoint.yaml')), '--dir is kept');
    } finally {
      demo.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--duration stops the demo by itself', async () => {
    const result = await runCli(['demo', '--free-ports', '--no-input', '--duration', '1s'], { timeoutMs: 20_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /stopping \(--duration 1000ms passed\)\n.*stopped\n$/);
  });

  it('rejects a bad --duration with one line before starting anything', async () => {
    const { runProgram } = await import('../../../src/cli/program.js');
    const sink = new PassThrough();
    await assert.rejects(runProgram(['demo', '--duration', 'soon', '--no-input'], { stdout: sink, stderr: sink }), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, 'USAGE');
      assert.equal(error.exitCode, 2);
      assert.equal(error.message, '--duration "soon" is not a duration');
      return true;
    });
  });
});
