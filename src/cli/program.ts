// Every command of the CLI, declared once with commander: arguments, options with their types and defaults,
// help and examples. Help, errors for unknown or conflicting flags and shell completion all come from here.
// Each action loads its command module only when it runs (the CLI stays a thin, lazy shell) and calls the
// command's typed async function; the exit code is what that function returns.
import { Argument, Command as Cli, CommanderError, Help, Option } from '@commander-js/extra-typings';
import { EXIT, UserError } from '../errors.js';
import { RENDERERS } from '../render/index.js';
import { parseDuration } from '../spec/duration.js';
import { VERSION } from '../version.js';
import { errorJson, usage, type Io } from './command.js';
import { addCompletion, pathOption } from './completion.js';
import { examples, formatItem, formatList, helpWidth, MIN_DESCRIPTION_WIDTH, outputWidth, prose, wrapUsage } from './help.js';

export const PROGRAM = 'cluster-endpoint';

/** A duration flag ("30s", "5m") parsed to milliseconds; a bad value is a usage error naming the flag. */
export function durationArgument(flag: string, example: string): (text: string) => number {
  return (text) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms === 0) throw usage(`${flag} "${text}" is not a duration`, `write a number with a unit, e.g. ${flag} ${example}`);
    return ms;
  };
}

const configOption = (description = 'spec file') => pathOption(new Option('-c, --config <file>', description).default('endpoint.yaml'));
// Commands that talk to a running balancer find it the same way (runtime/admin/client.ts resolveAdminTarget).
const adminConfig = () => pathOption(new Option('-c, --config <file>', "spec to find the admin address and token in (default ./endpoint.yaml, else /etc/cluster-endpoint/endpoint.yaml, else 127.0.0.1:8404)"));
const adminUrl = () => new Option('--admin <url>', 'admin address of the balancer instead (no spec needed), e.g. http://127.0.0.1:8404');
const adminToken = () => new Option('--token <token>', "admin token (default: the spec's balancer.adminToken or CLUSTER_ENDPOINT_ADMIN_TOKEN)");

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The program, writing to io; `exit.code` holds the code of the command that ran. */
export function createProgram(io: Io, exit: { code: number }): Cli {
  const program = new Cli(PROGRAM)
    .description('One stable, highly available address for a Kubernetes / Talos control plane.')
    .version(VERSION, '-v, --version', 'print the version')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => undefined,
      getOutHelpWidth: () => helpWidth(io.stdout), getErrHelpWidth: () => helpWidth(io.stderr),
    })
    .configureHelp({
      minWidthToWrap: MIN_DESCRIPTION_WIDTH,
      formatHelp: (command, helper) => wrapUsage(Help.prototype.formatHelp.call(helper, command, helper), helper.helpWidth ?? 80),
      formatItem(term, termWidth, description, helper) {
        return formatItem(term, termWidth, description, helper.helpWidth ?? 80, (t, w, d) => Help.prototype.formatItem.call(helper, t, w, d, helper));
      },
    })
    .showSuggestionAfterError()
    .exitOverride();
  const done = (code: number) => { exit.code = code; };

  // serve is declared in one block so that new flags (and signals) go next to the existing ones.
  const serve = program.command('serve')
    .summary('run the built-in L4 balancer (and the VIP when the spec has one)')
    .description(`Runs the built-in L4 balancer described by the spec: one frontend per listener, health checks,
the status page, JSON API and /metrics on balancer.admin. With a vip: section and --peer (or a local
address that matches a peer), it also holds the floating VIP together with the other peers; with a
bgp: section it announces the endpoint with BGP (bgp.hosts: --peer picks this host's own settings).

Signals: SIGHUP reloads the spec (as does changing the file, unless --no-watch);
SIGTERM/SIGINT stop accepting, let connections finish for up to the deregistration delay, and exit 0
(balancer.mode: kernel then removes its nftables table); SIGUSR2 exits for a restart or an upgrade:
in kernel mode the table stays, established flows go on and the next serve adopts it (the unit that
\`render builtin\` writes sends SIGUSR2 on \`systemctl restart\`).`)
    .addOption(configOption())
    .option('--peer <name>', 'which LB host this is: a vip.peers or bgp.hosts entry (default: the one whose address, or router id, is local); refused on a spec with neither')
    .option('--no-watch', 'do not reload when the spec file changes (SIGHUP still reloads)')
    .addOption(new Option('--log-level <level>', 'log level (default info, or CLUSTER_ENDPOINT_LOG_LEVEL)').choices(LOG_LEVELS))
    .option('--cleanup', 'remove the nftables table (and its conntrack flows) that a kernel-mode serve of this spec left behind, then exit; cuts the flows it carried, leaves other clusters\' tables')
    .action(async (options) => {
      const { serve: run } = await import('./commands/serve.js');
      done(await run({ config: options.config, peer: options.peer, watch: options.watch ? undefined : false, logLevel: options.logLevel, cleanup: options.cleanup }, io));
    });
  examples(serve, ['sudo cluster-endpoint serve -c /etc/cluster-endpoint/endpoint.yaml', 'cluster-endpoint serve -c endpoint.yaml --peer lb-01 --log-level debug', 'sudo cluster-endpoint serve --cleanup -c /etc/cluster-endpoint/endpoint.yaml']);

  const validate = program.command('validate')
    .summary('check a spec and print every problem')
    .description('Checks a spec and prints every problem with its path, line and a fix.\nExit codes: 0 valid (warnings may be printed), 2 invalid.')
    .addOption(configOption())
    .option('--json', 'machine-readable report')
    .action(async (options) => done(await (await import('./commands/validate.js')).validate(options, io)));
  examples(validate, ['cluster-endpoint validate -c endpoint.yaml', 'cluster-endpoint validate -c endpoint.yaml --json']);

  program.command('schema')
    .summary('print the JSON Schema of endpoint.yaml')
    .description('Prints the JSON Schema of endpoint.yaml (schema/endpoint.schema.json is this output), or with\n--markdown the field reference table of docs/spec.md.')
    .addOption(pathOption(new Option('-o, --output <file>', 'write to this file instead of stdout')))
    .option('--markdown', 'the field reference table instead')
    .action(async (options) => done(await (await import('./commands/schema.js')).schema(options, io)));

  const drain = program.command('drain')
    .summary('stop sending new connections to a node (all listeners) of a running balancer')
    .description(`Stops sending new connections to NODE on every listener of a running balancer (admin state drain).
Its open connections get the spec's deregistrationDelay to finish, then they are closed. With
--maint the node gets no traffic at all, not even when every other server is down (fail-open),
until \`cluster-endpoint undrain NODE\`.`)
    .addArgument(new Argument('<node>', 'the node name'))
    .option('--maint', 'set admin state maint instead of drain')
    .option('--listener <name>', "only this listener's server, not the node on every listener")
    .addOption(adminConfig()).addOption(adminUrl()).addOption(adminToken())
    .option('--json', 'print the API answer as JSON')
    .action(async (node, options) => done(await (await import('./commands/drain.js')).drain({ ...options, node }, io)));
  examples(drain, ['cluster-endpoint drain cp-02 -c endpoint.yaml', 'cluster-endpoint drain cp-02 --maint --admin http://127.0.0.1:8404']);

  program.command('undrain')
    .summary('return a drained node to service')
    .description(`Returns NODE to service on every listener of a running balancer (admin state ready), after drain or
drain --maint. It takes new connections again as soon as its health checks say it is up.`)
    .addArgument(new Argument('<node>', 'the node name'))
    .option('--listener <name>', "only this listener's server, not the node on every listener")
    .addOption(adminConfig()).addOption(adminUrl()).addOption(adminToken())
    .option('--json', 'print the API answer as JSON')
    .action(async (node, options) => done(await (await import('./commands/undrain.js')).undrain({ ...options, node }, io)));

  program.command('status')
    .summary('print the status of a running balancer')
    .description(`Prints the state of a running balancer: every listener and server with its health state, admin
state, connections and last check; the last reload and the VIP role.`)
    .addOption(adminConfig()).addOption(adminUrl()).addOption(adminToken())
    .option('--json', 'print the whole snapshot (GET /api/status) as JSON')
    .action(async (options) => done(await (await import('./commands/status.js')).status(options, io)));

  const demo = program.command('demo')
    .summary('run the balancer in front of three simulated control-plane nodes')
    .description(`Runs the built-in balancer in front of three simulated control-plane nodes (127.0.0.31-33, or distinct
ports on 127.0.0.1 where those addresses do not exist), in one process and without root. The nodes answer
/readyz, /livez, /healthz and /version over TLS like kube-apiserver, so real kubectl works through the
balancer. Type "stop cp-02" and watch the balancer mark it down; "start cp-02" brings it back.

Commands are read from stdin. At a terminal Ctrl-D stops the demo; in the background or from a pipe the end
of input does not: the demo runs until quit, Ctrl-C, SIGTERM or --duration.`)
    .addOption(pathOption(new Option('--dir <dir>', 'write endpoint.yaml, ca.crt and kubeconfig here (kept); default a temporary directory removed at the end')))
    .option('--tour', 'stop and restart cp-01 by itself and show requests still being answered')
    .addOption(new Option('--duration <duration>', 'stop after this long (e.g. 30s, 5m)').argParser(durationArgument('--duration', '30s')))
    .option('--no-input', 'do not read commands from stdin (runs until Ctrl-C, SIGTERM, --duration or the tour ends)')
    .option('--free-ports', 'use free ports instead of 6443, 50000 and 8404')
    .option('--single-address', 'put every node on 127.0.0.1 with ports of its own, as the demo does by itself where 127.0.0.31-33 cannot be bound')
    .option('--verbose', "also print the balancer's own log (stderr)")
    .action(async (options) => done(await (await import('./commands/demo.js')).demo({ ...options, durationMs: options.duration }, io)));
  examples(demo, ['cluster-endpoint demo', 'cluster-endpoint demo --tour --no-input', 'cluster-endpoint demo --duration 10m < /dev/null &']);

  const targets = [...Object.keys(RENDERERS), 'all'];
  const render = program.command('render')
    .summary(`write configuration for ${Object.keys(RENDERERS).join(', ')}`)
    .description(`Writes configuration for one engine from the spec.
all: every target, each in DIR/<target>/; one whose section the spec lacks
(bird without bgp:) is skipped with a notice.
Every file starts with a header naming the spec and the tool version.
A value the engine cannot express fails naming its field, all at once.
Exit codes: 0 written (--check: every file matches); 1 a target refuses
the spec, or --check found drift; 2 usage or an invalid spec.`)
    .addArgument(new Argument('<target>', 'what to render').choices(targets).argParser((target: string) => {
      if (!targets.includes(target)) throw usage(`unknown render target "${target}"`, `use one of: ${targets.join(', ')}`);
      return target;
    }))
    .addOption(configOption())
    .addOption(pathOption(new Option('-o, --output <dir>', 'output directory (required)')))
    .addOption(new Option('--check', 'write nothing; exit 1 and show a diff when DIR differs from what the spec renders').conflicts(['kubeconfig', 'talosconfig']))
    .addOption(pathOption(new Option('--kubeconfig <file>', 'clients only: set the server of cluster <cluster.name> in this file (backup FILE.bak-<time>)')))
    .addOption(pathOption(new Option('--talosconfig <file>', 'clients only: set endpoints and nodes of the context in this file (backup FILE.bak-<time>)')))
    .addOption(pathOption(new Option('--binary <path>', 'builtin only: the executable the unit runs (default: cluster-endpoint, which systemd finds in /usr/local/bin or /usr/bin)')))
    .addHelpText('after', ({ command }) => `\n${formatList('Targets:', [...Object.values(RENDERERS).map((r) => [r.target, r.description] as const), ['all', 'every target above the spec has a section for, each into its own subfolder']], outputWidth(command))}`)
    .action(async (target, options) => done(await (await import('./commands/render.js')).render({ ...options, target }, io)));
  examples(render, [
    'cluster-endpoint render haproxy -c endpoint.yaml -o out/',
    'cluster-endpoint render prometheus -c endpoint.yaml -o /etc/prometheus/cluster-endpoint/',
    'cluster-endpoint render all -c endpoint.yaml -o rendered/ --check',
    'cluster-endpoint render clients -c endpoint.yaml -o out/ --kubeconfig ~/.kube/config',
  ]);

  const probe = program.command('probe')
    .summary('check a live endpoint and every node on every listener')
    .description(`Checks the endpoint and every node on every listener: TCP connect time; TLS protocol, certificate
subject, whether its SANs name the endpoint, days to expiry; Kubernetes /readyz and /version; Talos API
reachability, and with --talosconfig an authenticated Version call.

Exit codes: 0 the endpoint is usable (node problems are warnings), 1 not usable (reason on stderr), 2 usage.`)
    .addOption(pathOption(new Option('-c, --config <file>', 'spec (default endpoint.yaml when --endpoint is not given)')))
    .addOption(new Option('--endpoint <host>', 'endpoint address without a spec (listeners default to kubernetes=6443, talos=50000)').conflicts('config'))
    .addOption(new Option('--node <name=addr>', 'a node (repeat)').argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]))
    .option('--nodes <addr,addr>', 'nodes named by their addresses')
    .addOption(new Option('--listener <name=port[:targetport]>', 'a listener (repeat); checked as a spec listener of that name and target port would be (docs/probe.md)').argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]))
    .addOption(pathOption(new Option('--kubeconfig <file>', "use the current context's client certificate and CA for /readyz and /version")))
    .addOption(pathOption(new Option('--talosconfig <file>', "call the Talos API (machine.MachineService/Version) with the context's certificates")))
    .addOption(new Option('--timeout <duration>', 'per check').default(3000, '3s').argParser(durationArgument('--timeout', '3s')))
    .option('--json', 'machine-readable output (stable keys)')
    .action(async (options) => done(await (await import('./commands/probe.js')).probe({ ...options, timeoutMs: options.timeout }, io)));
  examples(probe, ['cluster-endpoint probe -c endpoint.yaml', 'cluster-endpoint probe --endpoint 192.168.30.30 --nodes 192.168.30.31,192.168.30.32 --json']);

  const watch = program.command('watch')
    .summary('open connections continuously and report outage windows')
    .description(`Opens new connections to the endpoint at a fixed rate and reports each outage window (start, end, length,
failed attempts) as it happens and in a summary at the end. Run it during a reboot or failover drill.
It stops by itself after --duration; Ctrl-C (SIGINT) stops it early and prints the summary.

Each connection must get an answer only a server behind the balancer can give (see --check): by default
GET /readyz on the Kubernetes API, a TLS handshake on the Talos API; a connection closed before any byte is
a failure. On a terminal a live line shows the counts as it goes.

Exit codes: 0 done (outages are reported, not failures unless --fail-on-outage), 1 outage with --fail-on-outage, 2 usage.`)
    .addOption(pathOption(new Option('-c, --config <file>', "spec: watch spec.endpoint on a listener's port (default endpoint.yaml)")))
    .option('--listener <name>', 'which listener (default the Kubernetes API listener, else the first)')
    .addOption(new Option('--endpoint <host>', 'watch HOST without a spec (with --port)').conflicts(['config', 'listener']))
    .option('--port <port>', 'port to watch with --endpoint')
    .option('--rate <rate>', 'attempts per second: 20/s, 600/m, 5', '20/s')
    .addOption(new Option('--duration <duration>', 'how long to watch').default(60_000, '1m').argParser(durationArgument('--duration', '10m')))
    .addOption(new Option('--timeout <duration>', 'per attempt').default(2000, '2s').argParser(durationArgument('--timeout', '2s')))
    .addOption(new Option('--check <type>', "what each new connection must get through the balancer: tcp (not closed before any byte), tls (a handshake), https (GET --https PATH, default /readyz); default by the listener's role: https /readyz for the Kubernetes API, tls for the Talos API, else tcp").choices(['tcp', 'tls', 'https'] as const))
    .option('--https <path>', 'an https check that GETs PATH on each new connection')
    .option('--expect <codes>', 'with an https check: statuses that count as up, e.g. 200,401 (default 200; 200,401,403 for the Kubernetes API by default)')
    .option('--json', 'one JSON line per event (start, outage-start, outage-end, summary)')
    .option('--fail-on-outage', 'exit 1 when any outage was seen (for CI)')
    .action(async (options) => done(await (await import('./commands/watch.js')).watch({ ...options, durationMs: options.duration, timeoutMs: options.timeout }, io)));
  examples(watch, ['cluster-endpoint watch -c endpoint.yaml --rate 20/s --duration 10m', 'cluster-endpoint watch --endpoint 192.168.30.30 --port 6443 --https /readyz --expect 200,401']);

  const doctor = program.command('doctor')
    .summary('find known mistakes in a spec and in haproxy, keepalived, Talos and Terraform files')
    .description(`Finds known mistakes in a spec and in hand-written haproxy.cfg, keepalived.conf, Talos machine configs
and patches, talosconfig, and Terraform .tf/.tfvars files (recognised by name or content).
A directory stands for the files in it (recursively) that doctor recognises.
Without FILES it checks ./endpoint.yaml. Several keepalived.conf files are compared with each other
(priorities of peers); .tfvars values resolve variables used in .tf files. When haproxy, keepalived or
terraform is on the PATH, their own checks run too (haproxy -c, keepalived -t in a scratch network
namespace when run as root, terraform fmt -check); their errors are findings with file and line.

Exit codes: 0 no finding of severity error, 1 at least one error, 2 usage.`)
    .addArgument(new Argument('[files...]', 'files or directories to check'))
    .option('--json', 'machine-readable report')
    .option('--haproxy-version <x.y>', 'HAProxy version the haproxy.cfg targets (else read from a "# haproxy X.Y" comment)')
    .option('--talos-version <x.y>', 'Talos version the machine configs target (else guessed from the documents)')
    .option('--no-engines', 'do not run haproxy -c, keepalived -t or terraform fmt -check')
    .action(async (files, options) => done(await (await import('./commands/doctor.js')).doctor({ ...options, files }, io)));
  examples(doctor, ['cluster-endpoint doctor endpoint.yaml /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf', 'cluster-endpoint doctor infra/terraform/']);

  const rehearse = program.command('rehearse')
    .summary('run your haproxy.cfg + keepalived.conf (or serve) against a simulated control plane and measure what clients lose')
    .description(`Builds a lab in network namespaces — stand-in kube-apiserver/apid nodes at the addresses your files name, your
own engines on the LB hosts (HAProxy + keepalived with your files, one LB host per keepalived.conf; or serve
with the spec), and a kubectl-like client — then runs a drill: a node drained and rebooted, crashed,
black-holed, unready; the balancer and an LB host crashed, a link cut; the engines reloaded. It reports per
step the failed requests, the longest outage, the streams cut, who held the VIP, and for every loss its most
likely cause (file:line). Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN); --dry-run prints the plan without.

Exit codes: 0 no step lost more than the promises allow, 1 a step did, 2 usage or the lab cannot run, 130 interrupted.`)
    .addArgument(new Argument('[files...]', 'haproxy.cfg, keepalived.conf (one per LB host), the check scripts they name, Talos or kubeadm configs'))
    .addOption(pathOption(new Option('-c, --config <file>', 'spec: its promises (checks, VIP, idle timeout); with --serve, what serve runs (default ./endpoint.yaml)')))
    .option('--serve', 'rehearse the built-in balancer (serve) with the spec instead of HAProxy + keepalived')
    .addOption(new Option('--steps <list>', 'only these steps, comma-separated (baseline, idle, node-reboot, node-crash, node-blackhole, api-unready, lb-engine-crash, lb-host-crash, lb-link-cut, reload)'))
    .addOption(new Option('--idle <duration>', 'the longest watches are left idle to meet an idle timeout').default(45_000, '45s').argParser(durationArgument('--idle', '2m')))
    .option('--dry-run', 'print the plan (lab, engines, promises, steps) and build nothing')
    .option('--json', 'machine-readable report (stable keys)')
    .addOption(pathOption(new Option('--log <file>', 'also write everything the run saw (client, nodes, engines\' log, VIP) as JSON lines')))
    .action(async (files, options) => done(await (await import('./commands/rehearse.js')).rehearse({ ...options, files, idleMs: options.idle }, io)));
  examples(rehearse, [
    'sudo cluster-endpoint rehearse haproxy.cfg lb-01/keepalived.conf lb-02/keepalived.conf',
    'sudo cluster-endpoint rehearse -c endpoint.yaml --serve --json',
    'cluster-endpoint rehearse -c endpoint.yaml haproxy.cfg keepalived.conf check_apiserver.sh --dry-run',
  ]);

  addCompletion(program, io, done);
  for (const command of program.commands) {
    command.exitOverride((error) => { throw usageFromCommander(error, command); });
    // Written with line breaks for the source's sake; wrapped once, at the reader's width.
    command.description(prose(command.description()));
  }
  return program;
}

/** commander's parse errors as one UserError line with a fix, exit code 2; help and --version exit 0. */
function usageFromCommander(error: CommanderError, command: Cli<any, any, any>): never {
  throw toUsageError(error, command);
}

export function toUsageError(error: CommanderError, command?: Cli<any, any, any>): CommanderError | UserError {
  if (error.exitCode === 0) return error;
  const name = command ? `${PROGRAM} ${command.name()}` : PROGRAM;
  const message = error.message.replace(/^error: /, '');
  const missing = /^missing required argument '([^']+)'/.exec(message);
  if (missing && command) {
    const argument = command.registeredArguments.find((a) => a.name() === missing[1]);
    return usage(`${command.name()} needs ${argument?.description || missing[1]}`, `${name} ${command.usage()} (see ${name} --help)`);
  }
  return usage(message, `run ${name} --help to see the ${command ? 'options' : 'commands'}`);
}

/**
 * Parses argv against the declaration and runs the command. Usage errors are thrown as UserError (main.ts prints
 * them); help and --version write to io.stdout and return 0; no command at all prints the help and returns 2.
 * With --json, a failure is also written to stdout as {"error": {code, message, hint}} (docs/errors.md).
 */
export async function runProgram(argv: string[], io: Io): Promise<number> {
  const exit = { code: EXIT.ok };
  const program = createProgram(io, exit);
  if (argv.length === 0) {
    io.stdout.write(program.helpInformation());
    return EXIT.invalid;
  }
  // `help NAME` for a name that is no command says so, as `NAME` alone would (commander prints the program's help).
  if (argv[0] === 'help' && argv[1] !== undefined && !commandNamed(program, argv[1])) argv = argv[1] === 'help' ? ['--help'] : argv.slice(1);
  const json = wantsJson(program, argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit.code;
  } catch (error) {
    const failure = error instanceof CommanderError ? toUsageError(error) : error;
    if (failure instanceof CommanderError) return failure.exitCode;
    if (json) io.stdout.write(`${JSON.stringify({ error: errorJson(failure) })}\n`);
    throw failure;
  }
}

const commandNamed = (program: Cli, name: string) => program.commands.some((c) => c.name() === name || c.aliases().includes(name));

/** True when argv runs a command that has --json and asks for it (before any "--"). */
function wantsJson(program: Cli, argv: string[]): boolean {
  const command = program.commands.find((c) => c.name() === argv[0]);
  const end = argv.indexOf('--');
  return command !== undefined && command.options.some((o) => o.long === '--json') && (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}
