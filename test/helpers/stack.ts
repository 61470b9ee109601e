import { startDaemon, type Daemon } from '../../src/runtime/daemon.js';
import { silentLogger } from '../../src/log.js';
import type { ServerSnapshot } from '../../src/runtime/snapshot.js';
import { specFor, startBackends, tempSpec, type Backend, type TempSpec } from './backends.js';
import { freePort, waitFor } from './net.js';

export interface Stack {
  backends: Backend[];
  daemon: Daemon;
  port: number;
  adminPort: number;
  spec: TempSpec;
  specValue: Record<string, unknown>;
  servers(): ServerSnapshot[];
  server(name: string): ServerSnapshot;
  waitForState(name: string, state: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Backends on loopback and a real daemon in front of them, with fast health checks. */
export async function startStack(names: string[], overrides: Partial<Parameters<typeof specFor>[0]> & { greet?: boolean; waitUp?: boolean } = {}): Promise<Stack> {
  const backends = await startBackends(names, { greet: overrides.greet });
  const port = await freePort();
  const adminPort = await freePort();
  const specValue = specFor({ port, adminPort, backends, ...overrides });
  const spec = await tempSpec(specValue);
  const daemon = await startDaemon({ specPath: spec.path, logger: silentLogger });
  const servers = () => daemon.snapshot().listeners[0].servers;
  const stack: Stack = {
    backends, daemon, port, adminPort, spec, specValue, servers,
    server: (name) => {
      const found = servers().find((s) => s.name === name);
      if (!found) throw new Error(`no server ${name}`);
      return found;
    },
    async waitForState(name, state, timeoutMs = 5000) {
      const ok = await waitFor(() => servers().some((s) => s.name === name && s.state === state), timeoutMs);
      if (!ok) throw new Error(`${name} did not become ${state} within ${timeoutMs}ms (now ${stack.server(name).state})`);
    },
    async close() {
      await daemon.destroy();
      await Promise.all(backends.map((b) => b.close()));
      await spec.cleanup();
    },
  };
  if (overrides.waitUp !== false) for (const name of names) await stack.waitForState(name, 'up');
  return stack;
}
