// The demo where 127.0.0.31-33 do not exist (macOS): every node on 127.0.0.1 with ports of its own, written
// as controlPlane[].ports. --single-address forces that layout here, so the real balancer, real sockets and
// the real spec loader are exercised the way a Mac runs them.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { getThroughBalancer } from '../../../src/demo/client.js';
import { loadSpecFile } from '../../../src/spec/load.js';
import { runCli } from '../../helpers/cli.js';
import { canConnect, waitFor } from '../../helpers/net.js';
import { exitCode, startDemoProcess, status } from './demo-process.js';

describe('cluster-endpoint demo on one address (--single-address)', () => {
  it('runs three nodes on distinct ports of 127.0.0.1 behind the balancer, all up and all reached', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-single-'));
    const demo = await startDemoProcess(['--single-address', '--dir', dir, '--duration', '60s']);
    const { expect, statusUrl, kubernetesUrl } = demo;
    try {
      await expect(/note: --single-address: the nodes share 127\.0\.0\.1 on ports of their own \(controlPlane\[\]\.ports in endpoint\.yaml\)/);

      // The spec it wrote is valid, and its servers are three distinct ports on 127.0.0.1.
      const specPath = join(dir, 'endpoint.yaml');
      const loaded = await loadSpecFile(specPath);
      assert.deepEqual(loaded.problems, []);
      const spec = loaded.spec!;
      assert.match(await readFile(specPath, 'utf8'), /ports:/);
      const servers = new Map<string, number>();
      for (const listener of spec.listeners) {
        assert.deepEqual(listener.servers.map((s) => s.address), ['127.0.0.1', '127.0.0.1', '127.0.0.1'], listener.name);
        assert.equal(new Set(listener.servers.map((s) => s.port)).size, 3, `${listener.name}: one port per node`);
        for (const s of listener.servers) servers.set(`${listener.name} ${s.name}`, s.port);
      }
      assert.equal(new Set(servers.values()).size, 6, 'no two listeners of two nodes share a port');
      const validate = await runCli(['validate', '-c', specPath]);
      assert.equal(validate.code, 0, validate.stderr);

      // The balancer marks every server up, on both listeners.
      await expect(/ready: 3\/3 kubernetes servers up/);
      const allUp = await waitFor(async () => {
        const snapshot = await status(statusUrl);
        return snapshot.listeners.every((l) => l.servers.length === 3 && l.servers.every((s) => s.state === 'up')) && snapshot;
      }, 15_000, 100);
      assert.ok(allUp, 'every server of kubernetes and talos is up');
      for (const listener of allUp.listeners) {
        for (const s of listener.servers) assert.equal(s.port, servers.get(`${listener.name} ${s.name}`), `${listener.name} ${s.name} checks the port of the spec`);
      }

      // Requests through the balancer, one connection each: round robin reaches every node on its own port.
      const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
      const reached = new Map<string, number>();
      for (let i = 0; i < 6; i++) {
        const answer = await getThroughBalancer(`${kubernetesUrl}/demo/node`, ca);
        assert.ok(answer.ok, `request ${i}: ${answer.error ?? answer.status}`);
        const body = JSON.parse(answer.body ?? '{}') as { node: string; address: string; port: number };
        assert.equal(body.node, answer.node, 'the X-Demo-Node header names the node that answered');
        assert.equal(body.address, '127.0.0.1');
        reached.set(body.node, body.port);
      }
      assert.deepEqual([...reached.keys()].sort(), ['cp-01', 'cp-02', 'cp-03']);
      for (const [node, port] of reached) assert.equal(port, servers.get(`kubernetes ${node}`), `${node} answered on its own port`);

      // Failover works the same on one address: cp-02 stopped is marked down and skipped.
      let mark = demo.output().length;
      demo.send('stop cp-02');
      await expect(/cp-02 kubernetes: up → down \(.+\)/, 10_000, mark);
      for (let i = 0; i < 4; i++) {
        const answer = await getThroughBalancer(`${kubernetesUrl}/readyz`, ca);
        assert.ok(answer.ok, `request ${i} after cp-02 stopped: ${answer.error ?? answer.status}`);
        assert.notEqual(answer.node, 'cp-02');
      }
      assert.equal(await canConnect('127.0.0.1', servers.get('kubernetes cp-02')!), false, 'cp-02 really stopped listening');

      mark = demo.output().length;
      demo.send('quit');
      assert.equal(await exitCode(demo, 10_000), 0, `stdout:\n${demo.output()}`);
      assert.match(demo.output().slice(mark), /stopping \(quit\)/);
      for (const port of servers.values()) assert.equal(await canConnect('127.0.0.1', port), false, `nothing left on ${port}`);
    } finally {
      demo.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
