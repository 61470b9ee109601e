import { EXIT, UserError } from '../../errors.js';
import { clusterDrift, driftLines } from '../../membership/kubernetes/drift.js';
import { loadKubeconfig, loadTalosconfig } from '../../probe/credentials.js';
import { planFromFlags, planFromSpec, type ProbePlan } from '../../probe/plan.js';
import { runProbe } from '../../probe/run.js';
import { formatTable, formatVerdict } from '../../probe/table.js';
import { verdict } from '../../probe/verdict.js';
import { addressKind } from '../../spec/address.js';
import { requireSpec } from '../../spec/load.js';
import { errorJson, formatError, usage, type Io } from '../command.js';

export interface ProbeOptions {
  config?: string;
  endpoint?: string;
  node?: string[];
  nodes?: string;
  listener?: string[];
  kubeconfig?: string;
  talosconfig?: string;
  timeoutMs: number;
  json?: boolean;
}

/** Checks the endpoint and every node on every listener; 1 when the endpoint is not usable. */
export async function probe(options: ProbeOptions, io: Io): Promise<number> {
  const plan = await buildPlan(options);
  const checks = {
    timeoutMs: options.timeoutMs,
    kubeconfig: options.kubeconfig ? await loadKubeconfig(options.kubeconfig) : undefined,
    talosconfig: options.talosconfig ? await loadTalosconfig(options.talosconfig) : undefined,
  };
  const rows = await runProbe(plan, checks);
  const result = verdict(rows);
  // With discovery.kubernetes the cluster's own list of API servers is compared with the spec's (drift).
  const cluster = !options.endpoint ? await clusterDrift(await requireSpec(options.config ?? 'endpoint.yaml'), options.timeoutMs) : undefined;
  if (cluster) result.warnings.push(...driftLines(cluster));
  const more = result.failures.length > 1 ? ` (+${result.failures.length - 1} more)` : '';
  const failure = result.usable ? undefined : new UserError('PROBE_FAILED', `endpoint ${plan.endpoint} is not usable: ${result.failures[0]}${more}`, { exitCode: EXIT.failure });
  if (options.json) {
    // One document: the failure is part of the report (runProgram would print a second one).
    io.stdout.write(`${JSON.stringify({ endpoint: plan.endpoint, usable: result.usable, failures: result.failures, warnings: result.warnings, rows, ...(cluster ? { cluster } : {}), ...(failure ? { error: errorJson(failure) } : {}) }, null, 2)}\n`);
    if (failure) io.stderr.write(formatError(failure));
    return failure?.exitCode ?? EXIT.ok;
  }
  io.stdout.write(`${formatTable(rows)}\n`);
  const text = formatVerdict(result);
  if (text) io.stdout.write(`${text}\n`);
  if (failure) throw failure;
  return EXIT.ok;
}

type Values = { config?: string; endpoint?: string; node?: string[]; nodes?: string; listener?: string[] };

async function buildPlan(values: Values): Promise<ProbePlan> {
  if (!values.endpoint) {
    if (values.node || values.nodes || values.listener) throw usage('--node, --nodes and --listener go with --endpoint', 'pass --endpoint HOST, or take everything from the spec with -c FILE');
    return planFromSpec(await requireSpec(values.config ?? 'endpoint.yaml'));
  }
  if (!addressKind(values.endpoint)) throw usage(`--endpoint "${values.endpoint}" is not an address`, 'use an IPv4/IPv6 address or a DNS name, without a port');
  const nodes = (values.node ?? []).map((text) => {
    const match = /^([^=]+)=(.+)$/.exec(text);
    if (!match || !addressKind(match[2])) throw usage(`--node "${text}" is not NAME=ADDR`, 'write it like --node cp-01=192.168.30.31');
    return { name: match[1], address: match[2] };
  });
  for (const address of (values.nodes ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!addressKind(address)) throw usage(`--nodes entry "${address}" is not an address`, 'write it like --nodes 192.168.30.31,192.168.30.32');
    nodes.push({ name: address, address });
  }
  const listeners = values.listener?.map((text) => {
    const match = /^([a-z0-9-]+)=(\d+)(?::(\d+))?$/.exec(text);
    const port = Number(match?.[2]);
    const targetPort = Number(match?.[3] ?? match?.[2]);
    if (!match || !(port >= 1 && port <= 65535 && targetPort >= 1 && targetPort <= 65535)) throw usage(`--listener "${text}" is not NAME=PORT[:TARGETPORT]`, 'write it like --listener kubernetes=6443 or --listener talos-workers=50001:50000');
    return { name: match[1], port, targetPort };
  });
  return planFromFlags(values.endpoint, nodes, listeners);
}
