// --tour: stops a node, shows requests still being answered while the balancer marks it down, and brings
// it back. Every wait is bounded.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Demo } from './demo.js';
import { findOnPath } from '../path.js';
import { getThroughBalancer, runKubectl } from './client.js';
import { countUp } from './report.js';

const WAIT_MS = 20_000;

export async function runTour(demo: Demo, say: (line: string) => void, signal: AbortSignal): Promise<void> {
  const ca = await readFile(demo.caPath, 'utf8');
  const kubectl = findOnPath('kubectl');
  const victim = demo.nodes[0];
  const upCount = () => countUp(demo.daemon.snapshot(), 'kubernetes');
  const serverState = () => demo.daemon.snapshot().listeners.find((l) => l.name === 'kubernetes')?.servers.find((s) => s.name === victim.name)?.state;

  /** Waits for predicate; returns the seconds since `since`. */
  const waitUntil = async (what: string, predicate: () => boolean, since = Date.now()): Promise<string> => {
    const started = Date.now();
    while (!predicate()) {
      if (Date.now() - started > WAIT_MS) throw new Error(`gave up waiting for ${what} after ${WAIT_MS / 1000}s`);
      await sleep(50, undefined, { signal });
    }
    return ((Date.now() - since) / 1000).toFixed(1);
  };
  const requests = async (count: number) => {
    const answers: string[] = [];
    for (let i = 0; i < count; i++) {
      const answer = await getThroughBalancer(`${demo.kubernetesUrl}/readyz`, ca);
      answers.push(answer.ok ? `${answer.node} ok` : `failed (${answer.error ?? answer.status})`);
    }
    say(`${count} requests to ${demo.kubernetesUrl}/readyz, one connection each: ${answers.join(', ')}`);
  };
  const kubectlReadyz = async () => {
    if (!kubectl) return;
    const result = await runKubectl(kubectl, ['--kubeconfig', demo.kubeconfigPath, 'get', '--raw', '/readyz']);
    say(`kubectl get --raw /readyz → ${result.ok ? result.output : `failed: ${result.output}`}`);
  };

  await waitUntil('every kubernetes server to be up', () => { const c = upCount(); return c.total > 0 && c.up === c.total; });
  say('all three nodes are up');
  await requests(3);
  await kubectlReadyz();
  await sleep(1000, undefined, { signal });

  say(`stopping ${victim.name}: its listeners and connections close, as when a node powers off`);
  const stoppedAt = Date.now();
  await victim.stop();
  say(`requests right away: a connect that ${victim.name} refuses is retried on another server`);
  await requests(3);
  const downAfter = await waitUntil(`${victim.name} to be marked down`, () => serverState() === 'down', stoppedAt);
  say(`the balancer marked ${victim.name} down ${downAfter}s after it stopped; requests go to the others`);
  await requests(3);
  await kubectlReadyz();
  await sleep(1000, undefined, { signal });

  say(`starting ${victim.name} again`);
  const startedAt = Date.now();
  await victim.start();
  const upAfter = await waitUntil(`${victim.name} to be marked up`, () => serverState() === 'up', startedAt);
  say(`the balancer marked ${victim.name} up ${upAfter}s after it started (2 good checks)`);
  // Round robin gives a returning server its turn within a round or two.
  await requests(6);
  say('tour done — try "stop cp-02" yourself, and watch the status page');
}
