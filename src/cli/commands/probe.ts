import { parseArgs } from 'node:util';
import { EXIT, UserError } from '../../errors.js';
import { loadKubeconfig, loadTalosconfig } from '../../probe/credentials.js';
import { planFromFlags, planFromSpec, type ProbePlan } from '../../probe/plan.js';
import { runProbe } from '../../probe/run.js';
import { formatTable, formatVerdict } from '../../probe/table.js';
import { verdict } from '../../probe/verdict.js';
import { addressKind } from '../../spec/address.js';
import { parseDuration } from '../../spec/duration.js';
import { requireSpec } from '../../spec/load.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint probe -c FILE [options]
       cluster-endpoint probe --endpoint HOST [--node NAME=ADDR ...] [--nodes ADDR,ADDR] [--listener NAME=PORT[:TARGETPORT] ...] [options]

Checks the endpoint and every node on every listener: TCP connect time; TLS protocol, certificate
subject, whether its SANs name the endpoint, days to expiry; Kubernetes /readyz and /version; Talos API
reachability, and with --talosconfig an authenticated Version call.

  -c, --config FILE         spec (default endpoint.yaml when --endpoint is not given)
  --endpoint HOST           endpoint address without a spec (listeners default to kubernetes=6443, talos=50000)
  --node NAME=ADDR          a node (repeat); --nodes ADDR,ADDR,... names them by address
  --listener NAME=PORT[:TARGETPORT]   a listener (repeat); kind by name: kubernetes, talos*, else TCP only
  --kubeconfig FILE         use the current context's client certificate and CA for /readyz and /version
  --talosconfig FILE        call the Talos API (machine.MachineService/Version) with the context's certificates
  --timeout DURATION        per check (default 3s)
  --json                    machine-readable output (stable keys)

Exit codes: 0 the endpoint is usable (node problems are warnings), 1 not usable (reason on stderr), 2 usage.`;

export const command: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' }, endpoint: { type: 'string' },
      node: { type: 'string', multiple: true }, nodes: { type: 'string' }, listener: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' }, talosconfig: { type: 'string' }, timeout: { type: 'string', default: '3s' },
      json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { io.stdout.write(`${HELP}\n`); return EXIT.ok; }
  const timeoutMs = parseDuration(values.timeout as string);
  if (!timeoutMs) throw usage(`--timeout "${values.timeout as string}" is not a duration`, 'write it like 3s or 500ms');
  const plan = await buildPlan(values);
  const options = {
    timeoutMs,
    kubeconfig: values.kubeconfig ? await loadKubeconfig(values.kubeconfig) : undefined,
    talosconfig: values.talosconfig ? await loadTalosconfig(values.talosconfig) : undefined,
  };
  const rows = await runProbe(plan, options);
  const result = verdict(rows);
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ endpoint: plan.endpoint, usable: result.usable, failures: result.failures, warnings: result.warnings, rows }, null, 2)}\n`);
  } else {
    io.stdout.write(`${formatTable(rows)}\n`);
    const text = formatVerdict(result);
    if (text) io.stdout.write(`${text}\n`);
  }
  if (!result.usable) {
    const more = result.failures.length > 1 ? ` (+${result.failures.length - 1} more)` : '';
    throw new UserError('PROBE_FAILED', `endpoint ${plan.endpoint} is not usable: ${result.failures[0]}${more}`, { exitCode: EXIT.failure });
  }
  return EXIT.ok;
};

type Values = { config?: string; endpoint?: string; node?: string[]; nodes?: string; listener?: string[] };

async function buildPlan(values: Values): Promise<ProbePlan> {
  if (!values.endpoint) {
    if (values.node || values.nodes || values.listener) throw usage('--node, --nodes and --listener go with --endpoint', 'pass --endpoint HOST, or take everything from the spec with -c FILE');
    return planFromSpec(await requireSpec(values.config ?? 'endpoint.yaml'));
  }
  if (values.config) throw usage('pass either -c FILE or --endpoint HOST, not both', 'the spec already names the endpoint');
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

function usage(message: string, hint: string): UserError {
  return new UserError('USAGE', message, { hint, exitCode: EXIT.invalid });
}
