// How to start this program again (the lab's agents, `serve` on the LB hosts): the single executable runs
// itself; from a checkout or the npm package, node runs the CLI's main module (through tsx when it is the
// TypeScript source, as in the tests).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable that makes the CLI run a rehearsal agent (agent.ts) instead of a command. */
export const AGENT_ENV = 'CLUSTER_ENDPOINT_REHEARSE_AGENT';
/** Path of the agent's JSON config. */
export const AGENT_CONFIG_ENV = 'CLUSTER_ENDPOINT_REHEARSE_CONFIG';

export async function selfArgv(): Promise<string[]> {
  if (await isSingleExecutable()) return [process.execPath];
  const here = fileURLToPath(import.meta.url);
  const typescript = here.endsWith('.ts');
  const main = join(dirname(here), '..', 'cli', typescript ? 'main.ts' : 'main.js');
  return [process.execPath, ...(typescript ? ['--import', import.meta.resolve('tsx')] : []), main];
}

async function isSingleExecutable(): Promise<boolean> {
  try {
    const sea = (await import('node:sea')) as { isSea?: () => boolean };
    return sea.isSea?.() ?? false;
  } catch {
    return false;
  }
}
