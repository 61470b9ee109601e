import { writeFile } from 'node:fs/promises';
import { runDoctor, type DoctorInput } from '../../doctor/run.js';
import type { Observations } from '../../rehearse/observe.js';
import { EXIT } from '../../errors.js';
import { findCauses } from '../../rehearse/causes.js';
import { readInputs } from '../../rehearse/inputs.js';
import { planRehearsal, STEP_NAMES, type StepName } from '../../rehearse/plan.js';
import { formatPlan, formatReport, reportJson } from '../../rehearse/report.js';
import { checkPrerequisites, runRehearsal } from '../../rehearse/run.js';
import { judge } from '../../rehearse/verdict.js';
import { usage, type Io } from '../command.js';

export interface RehearseOptions {
  files: string[];
  config?: string;
  serve?: boolean;
  steps?: string;
  idleMs?: number;
  dryRun?: boolean;
  json?: boolean;
  /** Write every event and engine log line of the run here (JSON lines). */
  log?: string;
}

/** The exit code of a rehearsal stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

export async function rehearse(options: RehearseOptions, io: Io): Promise<number> {
  const steps = parseSteps(options.steps);
  const config = options.config ?? (options.serve ? 'endpoint.yaml' : undefined);
  const inputs = await readInputs(options.files, config);
  const plan = planRehearsal(inputs, { serve: options.serve === true, idleCapMs: options.idleMs ?? 45_000, ...(steps ? { steps } : {}) });
  if (options.dryRun) {
    io.stdout.write(options.json ? `${JSON.stringify(reportJson(plan, undefined, new Map()), null, 2)}\n` : formatPlan(plan));
    return EXIT.ok;
  }
  await checkPrerequisites(plan);
  if (!options.json) io.stdout.write(formatPlan(plan));

  const controller = new AbortController();
  let stopping = false;
  const stop = () => {
    if (!stopping) io.stderr.write('stopping: removing the lab…\n');
    stopping = true;
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let observations;
  try {
    const started = Date.now();
    observations = await runRehearsal(plan, { signal: controller.signal, progress: (line) => io.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`) });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (options.log) await writeLog(options.log, observations);
  const verdict = judge(plan, observations);
  const doctorInputs: DoctorInput[] = [
    ...(inputs.spec ? [{ path: inputs.spec.path, text: inputs.spec.text }] : []),
    ...inputs.haproxy, ...inputs.keepalived, ...inputs.talos,
  ].map((f) => ({ path: f.path, text: f.text }));
  const findings = (await runDoctor(doctorInputs, { engines: false })).findings;
  const causes = findCauses(plan, inputs, verdict, observations, findings);
  io.stdout.write(options.json ? `${JSON.stringify(reportJson(plan, verdict, causes), null, 2)}\n` : formatReport(verdict, causes));
  if (verdict.interrupted) return EXIT_INTERRUPTED;
  return verdict.lost ? EXIT.failure : EXIT.ok;
}

/** Everything the run saw, one JSON object per line in time order: client and node events, engine logs, VIP holders, steps. */
async function writeLog(path: string, o: Observations): Promise<void> {
  const rows: Array<{ at: number; row: unknown }> = [
    ...o.client.map((e) => ({ at: e.at, row: { source: 'client', ...e } })),
    ...o.nodes.map((e) => ({ at: e.at, row: { source: 'node', ...e } })),
    ...o.logs.map((e) => ({ at: e.at, row: { source: 'engine', ...e } })),
    ...o.exits.map((e) => ({ at: e.at, row: { source: 'exit', ...e } })),
    ...o.holders.map((e) => ({ at: e.at, row: { source: 'vip', ...e } })),
    ...o.steps.map((s) => ({ at: s.startedAt, row: { source: 'step', ...s } })),
  ];
  rows.sort((a, b) => a.at - b.at);
  await writeFile(path, rows.map(({ at, row }) => JSON.stringify({ time: new Date(at).toISOString(), ...(row as object) })).join('\n') + '\n');
}

function parseSteps(text: string | undefined): StepName[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(STEP_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) throw usage(`--steps "${text}": ${unknown.length ? `no step ${unknown.join(', ')}` : 'no step named'}`, `use some of: ${STEP_NAMES.join(', ')}`);
  return names as StepName[];
}
