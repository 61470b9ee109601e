// For every loss, the most likely cause in the configuration, with file:line. Three sources, most direct first:
// what the stand-in nodes and the engines said during the drill (a check that got 400 for a missing Host
// header, a PROXY header where TLS was expected, keepalived's "track script … not found", HAProxy marking a
// server DOWN only after the node was gone), what the drill measured against what the files say (a watch cut
// after exactly the idle time a `timeout` line names, a track script that kept passing while HAProxy was dead),
// and doctor's rules where one names the trap. Pure: plan, inputs, verdict, observations and findings in.
import type { Finding } from '../doctor/finding.js';
import { apiOf, checkOption } from '../doctor/rules/haproxy/backends.js';
import { directives, effective, proxies, servers, type HaproxyConfig, type HaproxyDirective, type HaproxySection } from '../doctor/parsers/haproxy.js';
import { parseKeepalived, topLevel } from '../doctor/parsers/keepalived.js';
import { formatDuration } from '../spec/duration.js';
import type { RehearsalInputs } from './inputs.js';
import type { Observations } from './observe.js';
import type { RehearsalPlan, StepName } from './plan.js';
import type { StepResult, Verdict } from './verdict.js';

export interface Cause {
  file?: string;
  line?: number;
  /** What in the configuration does it. */
  text: string;
  /** How that makes clients lose what they lost. */
  why: string;
  /** What the drill saw that points here. */
  evidence?: string;
  /** doctor's rule, when one names this trap. */
  rule?: string;
  source?: string;
}

const KUBE_DOCS = {
  host: 'Go net/http (server.go readRequest): an HTTP/1.1 request without Host is answered "400 Bad Request: missing required Host header"',
  proxy: 'kube-apiserver speaks TLS from the first byte (Go crypto/tls: "first record does not look like a TLS handshake"); it has no PROXY protocol listener',
  httpOnTls: 'Go net/http answers plain HTTP on a TLS port with "400 Client sent an HTTP request to an HTTPS server."',
  shutdown: 'k8s.io/apiserver genericapiserver.go ShutdownDelayDuration: during the shutdown delay "/healthz will return 200, but /readyz will return failure"; then the listener closes',
  anonymous: 'https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests ; Talos sets --anonymous-auth=false (siderolabs/talos control_plane_final.go)',
  apid: 'Talos apid is gRPC over HTTP/2 with mutual TLS (siderolabs/talos internal/app/apid/pkg/provider/provider.go: tls.Mutual)',
};

/** Which doctor rules name a trap that shows in which steps. */
const RULE_STEPS: Array<[RegExp, StepName[]]> = [
  [/^(haproxy\/tcp-only-check|spec\/tcp-check-kubernetes|haproxy\/healthz-check|spec\/healthz-check)$/, ['api-unready', 'node-reboot']],
  [/^(haproxy\/httpchk-without-ssl|haproxy\/mode-http-api|spec\/https-check-talos|haproxy\/ssl-hello-after-httpchk|talos\/certsans-endpoint)$/, ['baseline', 'reload', 'node-reboot', 'node-crash', 'node-blackhole', 'api-unready', 'lb-engine-crash', 'lb-host-crash', 'lb-link-cut']],
  [/^(haproxy\/short-timeouts|spec\/idle-timeout)$/, ['idle']],
  [/^haproxy\/server-without-check$/, ['node-crash', 'node-blackhole', 'api-unready', 'node-reboot']],
  [/^(haproxy\/no-shutdown-sessions|spec\/on-marked-down-keep)$/, ['node-crash', 'node-blackhole']],
  // The track script decides whether the VIP leaves a host whose balancer died; the host's own death needs none.
  [/^keepalived\/(script-after-instance|unknown-track-script|weight-gap|pidof-check|nopreempt-negative-weight|script-security)$/, ['lb-engine-crash']],
  [/^keepalived\/(unicast-peers|peer-mismatch|equal-masters|duplicate-vrid|vip-subnet|auth-pass-length)$/, ['lb-engine-crash', 'lb-host-crash', 'lb-link-cut']],
  [/^(spec\/vip-without-peers|spec\/quorum)$/, ['lb-engine-crash', 'lb-host-crash', 'lb-link-cut']],
];

export function findCauses(plan: RehearsalPlan, inputs: RehearsalInputs, verdict: Verdict, o: Observations, findings: Finding[]): Map<StepName, Cause[]> {
  const out = new Map<StepName, Cause[]>();
  for (const step of verdict.steps) {
    if (step.losses.length === 0) continue;
    const causes: Cause[] = [];
    const add = (cause: Cause) => {
      if (!causes.some((c) => c.file === cause.file && c.line === cause.line && c.text === cause.text)) causes.push(cause);
    };
    for (const cause of fromNodes(plan, inputs, step)) add(cause);
    for (const cause of fromEngines(plan, step, o)) add(cause);
    for (const cause of fromMeasures(plan, inputs, step, o)) add(cause);
    for (const finding of findings) {
      if (finding.severity === 'info') continue;
      if (!RULE_STEPS.some(([rule, steps]) => rule.test(finding.rule) && steps.includes(step.name))) continue;
      // The drill already points at this line: doctor's rule names the trap there.
      const same = causes.find((c) => c.file === finding.file && c.line === finding.line && !c.rule);
      if (same) { same.rule = finding.rule; same.source = finding.source; continue; }
      add({ file: finding.file, line: finding.line, text: finding.message, why: finding.why, rule: finding.rule, source: finding.source });
    }
    if (causes.length === 0) add({ text: 'no cause found in the files', why: 'the drill saw the loss, but neither the engines nor doctor point at a line; see what the step did and the engines\' log (--log FILE)' });
    out.set(step.name, causes.map((c) => origin(inputs, c)));
  }
  return out;
}

/** A line of a keepalived.conf read with its includes is a line of the file it came from. */
function origin(inputs: RehearsalInputs, cause: Cause): Cause {
  const from = inputs.keepalived.find((k) => k.path === cause.file)?.origins?.[(cause.line ?? 0) - 1];
  return from ? { ...cause, file: from.file, line: from.line } : cause;
}

// ------------------------------------------------------------------ what the stand-in nodes saw

function fromNodes(plan: RehearsalPlan, inputs: RehearsalInputs, step: StepResult): Cause[] {
  const causes: Cause[] = [];
  const seen = step.seen;
  for (const file of inputs.haproxy) {
    const config = file.config;
    const kubeChecks = checkLines(config, 'kubernetes');
    if (seen['missing-host']) {
      for (const line of kubeChecks.filter((d) => sendsHttp11WithoutHost(config, d))) {
        causes.push({ file: file.path, line: line.line, text: `the check (${describe(line)}) speaks HTTP/1.1 and sends no Host header`, why: `kube-apiserver answers it 400, so the check fails on every server and HAProxy marks them all DOWN. ${KUBE_DOCS.host}`, evidence: `${seen['missing-host']} check request(s) without Host answered 400 by the stand-in kube-apiservers` });
      }
    }
    if (seen.unauthorized && !checksPresentCertificate(config)) {
      for (const line of kubeChecks) {
        causes.push({ file: file.path, line: line.line, text: `the check (${describe(line)}) has no client certificate while kube-apiserver runs with anonymous auth off (${plan.apiserver.anonymousFrom.text})`, why: `kube-apiserver answers an anonymous request 401, which is not the status the check expects, so every server is marked DOWN. ${KUBE_DOCS.anonymous}`, evidence: `${seen.unauthorized} anonymous request(s) answered 401` });
      }
    }
    if (seen['proxy-header']) {
      for (const d of proxyLines(config)) {
        causes.push({ file: file.path, line: d.line, text: `${d.words.find((w) => w.startsWith('send-proxy'))} sends a PROXY protocol header to kube-apiserver or apid`, why: `the server takes the header for a broken TLS handshake and closes the connection: every request through HAProxy fails while a TCP check still passes. ${KUBE_DOCS.proxy}`, evidence: `${seen['proxy-header']} connection(s) opened with a PROXY header and closed by the stand-in nodes` });
      }
    }
    if (seen['http-on-tls']) {
      for (const line of kubeChecks) causes.push({ file: file.path, line: line.line, text: `the check (${describe(line)}) sends plain HTTP to the TLS port`, why: `${KUBE_DOCS.httpOnTls}, so every server fails its check`, evidence: `${seen['http-on-tls']} plain HTTP request(s) on a TLS port` });
    }
    if (seen['talos-http1'] || seen['talos-no-client-cert']) {
      for (const line of checkLines(config, 'talos')) {
        causes.push({ file: file.path, line: line.line, text: `the Talos API backend is checked with ${describe(line)}`, why: `apid answers neither HTTP/1.1 nor a TLS handshake without a client certificate of the Talos CA, so every Talos server is marked DOWN and talosctl through the endpoint fails. ${KUBE_DOCS.apid}`, evidence: `${(seen['talos-http1'] ?? 0) + (seen['talos-no-client-cert'] ?? 0)} check(s) on the Talos port rejected` });
      }
    }
  }
  if (plan.mode === 'serve' && plan.serveSpec && (seen.unauthorized || seen['talos-no-client-cert'] || seen['talos-http1'])) {
    const line = lineOf(plan.serveSpec.text, /healthCheck/);
    causes.push({ file: plan.serveSpec.source, ...(line ? { line } : {}), text: seen.unauthorized ? 'the https check has no client certificate while kube-apiserver runs with anonymous auth off' : 'the Talos listener is checked with an https GET', why: seen.unauthorized ? `401 is not in expectStatuses: every server is marked DOWN. ${KUBE_DOCS.anonymous}` : KUBE_DOCS.apid, evidence: `${(seen.unauthorized ?? 0) + (seen['talos-http1'] ?? 0) + (seen['talos-no-client-cert'] ?? 0)} check(s) rejected by the stand-in nodes` });
  }
  return causes;
}

/** The lines that define an API backend's check: the check option and the http-check send/expect lines. */
function checkLines(config: HaproxyConfig, api: 'kubernetes' | 'talos'): HaproxyDirective[] {
  const out: HaproxyDirective[] = [];
  for (const section of proxies(config)) {
    if (section.kind === 'frontend' || apiOf(config, section) !== api) continue;
    const option = checkOption(config, section);
    if (option) out.push(option);
    const send = effective(config, section, 'http-check', 'send');
    if (send) out.push(send);
  }
  return [...new Map(out.map((d) => [d.line, d])).values()];
}

/** Whether the Kubernetes API backends' checks present a client certificate (`crt` on their server lines). */
function checksPresentCertificate(config: HaproxyConfig): boolean {
  return proxies(config).some((section) => section.kind !== 'frontend' && apiOf(config, section) === 'kubernetes'
    && [...servers(section).map((s) => s.directive), ...directives(section, 'default-server'), ...config.sections.filter((s) => s.kind === 'defaults').flatMap((s) => directives(s, 'default-server'))].some((d) => d.words.includes('crt')));
}

function describe(d: HaproxyDirective): string {
  return d.words.join(' ');
}

function sendsHttp11WithoutHost(config: HaproxyConfig, d: HaproxyDirective): boolean {
  const words = d.words.map((w) => w.toLowerCase());
  if (words[0] === 'option' && words[1] === 'httpchk') return words.some((w) => w.startsWith('http/1.1')) && !d.words.join(' ').toLowerCase().includes('host:');
  if (words[0] === 'http-check' && words[1] === 'send') return words.includes('ver') && words[words.indexOf('ver') + 1] === 'http/1.1' && !words.some((w, i) => w === 'hdr' && words[i + 1] === 'host');
  void config;
  return false;
}

function proxyLines(config: HaproxyConfig): HaproxyDirective[] {
  const out: HaproxyDirective[] = [];
  for (const section of [...proxies(config), ...config.sections.filter((s) => s.kind === 'defaults')]) {
    if (section.kind !== 'defaults' && (section.kind === 'frontend' || !apiOf(config, section))) continue;
    for (const d of [...servers(section).map((s) => s.directive), ...directives(section, 'default-server')]) {
      if (d.words.some((w) => w.startsWith('send-proxy'))) out.push(d);
    }
  }
  return out;
}

function lineOf(text: string, pattern: RegExp): number | undefined {
  const index = text.split('\n').findIndex((l) => pattern.test(l));
  return index >= 0 ? index + 1 : undefined;
}

// ------------------------------------------------------------------ what the engines said

function keepalivedSource(plan: RehearsalPlan, host: string): string | undefined {
  return plan.lbHosts.find((h) => h.name === host)?.keepalived?.source;
}

function fromEngines(plan: RehearsalPlan, step: StepResult, o: Observations): Cause[] {
  const causes: Cause[] = [];
  const during = o.logs.filter((l) => l.at <= step.endedAt);
  // keepalived names the line it ignores: "(FILE: Line N) (VI_1) track script chk_haproxy not found, ignoring...".
  if (step.name === 'lb-engine-crash' || step.name === 'baseline') {
    for (const log of during.filter((l) => l.engine === 'keepalived')) {
      const notFound = /\(.*: Line (\d+)\) \(([^)]+)\) track script (\S+) not found/.exec(log.line);
      const source = keepalivedSource(plan, log.host);
      if (notFound && source && !causes.some((c) => c.line === Number(notFound[1]) && c.file === source)) {
        causes.push({ file: source, line: Number(notFound[1]), text: `track_script ${notFound[3]} of ${notFound[2]}: keepalived ignores it (the vrrp_script is not found where the instance is read)`, why: 'no check is tracked, so nothing lowers the holder\'s priority when its balancer dies: the VIP stays on a host that cannot serve', evidence: `keepalived on ${log.host}: "track script ${notFound[3]} not found, ignoring"` });
      }
      const disabled = /(?<what>Unsafe permissions found for script|could not find script) '(?<path>[^']+)'/.exec(log.line)?.groups
        ?? /Script (?<path>\S+) (?<what>cannot be accessed|is not executable)/.exec(log.line)?.groups;
      if (disabled && source) {
        const text = plan.lbHosts.find((h) => h.name === log.host)?.keepalived?.text ?? '';
        const name = disabled.path.split('/').pop() ?? disabled.path;
        const line = lineOf(text, new RegExp(`script\\s+"?[^"]*${escape(name)}`));
        causes.push({ file: source, ...(line ? { line } : {}), text: `the check script ${name} is disabled by keepalived (${disabled.what.toLowerCase()})`, why: 'a disabled script never fails, so the VIP never moves because of it', evidence: `keepalived on ${log.host}: ${log.line.replace(/^.*?\d{4}: /, '')}` });
      }
    }
  }
  // HAProxy that did not start: its ALERT names the line.
  for (const log of during.filter((l) => l.engine === 'haproxy' && /\[ALERT\]/.test(l.line))) {
    const match = /\[([^\]]+):(\d+)\]\s*:?\s*(.*)$/.exec(log.line);
    const host = plan.lbHosts.find((h) => h.name === log.host);
    if (!match || !host?.haproxy || !/\.cfg$/.test(match[1])) continue;
    if (!o.exits.some((e) => e.host === log.host && e.engine === 'haproxy' && e.at >= log.at && e.at - log.at < 2000)) continue;
    causes.push({ file: host.haproxy.source, line: Number(match[2]), text: `HAProxy does not start on ${log.host}: ${match[3].trim()}`, why: 'with no balancer on the host that holds the VIP, every connection to the endpoint is refused there', evidence: `haproxy on ${log.host} exited at start` });
  }
  // An engine that exited at start (serve's "error: … fix: …", keepalived's last words): the spec or file it read.
  for (const exit of o.exits.filter((e) => e.at <= step.endedAt && e.code !== 0 && e.signal !== 'SIGKILL')) {
    const host = plan.lbHosts.find((h) => h.name === exit.host);
    const lines = o.logs.filter((l) => l.host === exit.host && l.engine === exit.engine && l.at <= exit.at && l.at >= exit.at - 3000 && /error|fatal|alert/i.test(l.line));
    const file = exit.engine === 'serve' ? plan.serveSpec?.source : exit.engine === 'keepalived' ? host?.keepalived?.source : host?.haproxy?.source;
    if (!lines.length || causes.some((c) => c.text.includes(`on ${exit.host}`) && c.file === file)) continue;
    const words = lines.map((l) => l.line.replace(/^.*?\b(error|ALERT)\b\W*/i, '')).slice(0, 2).join('; ');
    causes.push({ ...(file ? { file } : {}), text: `${exit.engine} does not start on ${exit.host}: ${words}`, why: 'with no balancer running, the LB host answers nothing', evidence: `${exit.engine} on ${exit.host} exited with code ${exit.code}` });
  }
  return causes;
}

/** A script command as written (the lab's @FILE:name|path@ stands for the path the file named). */
function shown(command: string | undefined): string {
  return (command ?? '?').replace(/@FILE:[^|@]+\|([^@]*)@/g, '$1');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ------------------------------------------------------------------ what the drill measured against the files

function fromMeasures(plan: RehearsalPlan, inputs: RehearsalInputs, step: StepResult, o: Observations): Cause[] {
  const causes: Cause[] = [];
  if (step.name === 'idle') {
    // A cut after the idle time a timeout names: that timeout.
    for (const cut of step.cuts) {
      for (const timeout of plan.timing.idleTimeouts) {
        if (Math.abs(cut.idleMs - timeout.ms) > Math.max(2000, timeout.ms * 0.1)) continue;
        if (causes.some((c) => c.line === timeout.from.line && c.file === timeout.from.file)) continue;
        causes.push({ ...(timeout.from.file ? { file: timeout.from.file } : {}), ...(timeout.from.line ? { line: timeout.from.line } : {}), text: `${timeout.what} closes the API connections after ${formatDuration(timeout.ms)} without traffic`, why: 'a watch (kubectl get -w, an informer) sits idle for minutes between events; the balancer cuts it, and every client re-lists and re-watches', evidence: `watch(es) cut after ${(cut.idleMs / 1000).toFixed(1)}s idle` });
      }
    }
  }
  if (step.name === 'lb-engine-crash' && plan.mode === 'files') causes.push(...vipDidNotMove(plan, step, o));
  if (step.name === 'node-reboot') causes.push(...checkPassedWhileShuttingDown(plan, inputs, step, o), ...rebootWithoutDrain(inputs, step));
  if (step.name === 'api-unready') causes.push(...checkPassedWhileUnready(plan, inputs, step, o));
  if (step.name === 'baseline' || step.name.startsWith('lb-')) causes.push(...strict(plan, step));
  return causes;
}

/** The balancer died on the VIP holder and the VIP stayed: why did the tracked script not move it? */
function vipDidNotMove(plan: RehearsalPlan, step: StepResult, o: Observations): Cause[] {
  const holder = step.target;
  const host = plan.lbHosts.find((h) => h.name === holder);
  if (!host?.keepalived || step.holders.some((h) => h.length > 0 && !h.includes(holder ?? ''))) return [];
  const config = parseKeepalived(host.keepalived.text);
  const scripts = topLevel(config, 'vrrp_script');
  const logs = o.logs.filter((l) => l.engine === 'keepalived');
  const causes: Cause[] = [];
  for (const script of scripts) {
    const name = script.args[0] ?? '';
    const command = script.children.find((c) => c.keyword === 'script');
    const failedHere = logs.some((l) => l.host === holder && l.at >= step.startedAt && l.at <= step.endedAt && new RegExp(`VRRP_Script\\(${escape(name)}\\) failed|Script \`${escape(name)}\` now returning [1-9]`).test(l.line));
    const failingEverywhere = plan.lbHosts.every((h) => {
      const states = logs.filter((l) => l.host === h.name && new RegExp(`VRRP_Script\\(${escape(name)}\\) (failed|succeeded)`).test(l.line) && l.at < step.startedAt);
      return states.length > 0 && /failed/.test(states.at(-1)!.line);
    });
    const ran = logs.some((l) => l.host === holder && new RegExp(`VRRP_Script\\(${escape(name)}\\)|Script \`${escape(name)}\``).test(l.line));
    if (!ran) continue;
    if (failingEverywhere) {
      const anonymous = step.seenFromScripts.unauthorized ? ` — kube-apiserver answered its ${Object.keys(step.seenFromScripts).length ? 'requests' : 'request'} 401, anonymous auth is off (${plan.apiserver.anonymousFrom.text})` : '';
      causes.push({ file: host.keepalived.source, ...(command ? { line: command.line } : {}), text: `vrrp_script ${name} (${shown(command?.args[0])}) fails on every LB host, also where the balancer serves${anonymous}`, why: 'a check that fails everywhere cannot tell a broken host from a healthy one: every host loses the same weight (or all go to FAULT), so the VIP stays where it is when the balancer there dies', evidence: `keepalived reported ${name} failed on ${plan.lbHosts.map((h) => h.name).join(' and ')} before the step` });
    } else if (!failedHere) {
      causes.push({ file: host.keepalived.source, ...(command ? { line: command.line } : {}), text: `vrrp_script ${name} (${shown(command?.args[0])}) kept passing on ${holder} while its balancer was down`, why: 'the script does not test what clients need (a frontend that answers), so keepalived never lowers the holder\'s priority', evidence: `no failure of ${name} on ${holder} during the step` });
    } else {
      const weight = script.children.find((c) => c.keyword === 'weight');
      causes.push({ file: host.keepalived.source, ...(weight ? { line: weight.line } : command ? { line: command.line } : {}), text: `vrrp_script ${name} failed on ${holder}, but the VIP did not move`, why: 'the failing check did not take the holder below its peer: its weight does not exceed the priority gap, or preemption is off', evidence: `keepalived on ${holder}: ${name} failed during the step` });
    }
  }
  return causes;
}

/** A node that reboots gracefully: was it taken out during kube-apiserver's shutdown delay, or only once gone? */
function checkPassedWhileShuttingDown(plan: RehearsalPlan, inputs: RehearsalInputs, step: StepResult, o: Observations): Cause[] {
  if (step.requests.failed === 0 || plan.mode !== 'files') return [];
  const node = plan.nodes.find((n) => n.name === step.target);
  const terminating = o.nodes.find((e) => e.node === step.target && e.kind === 'terminating' && e.at >= step.startedAt);
  const stopped = o.nodes.find((e) => e.node === step.target && e.kind === 'stopped' && e.at >= step.startedAt);
  if (!node || !terminating) return [];
  const downLogs = o.logs.filter((l) => l.engine === 'haproxy' && l.at >= terminating.at && l.at <= step.endedAt && new RegExp(`Server \\S+/${escape(node.name)} is DOWN`).test(l.line));
  const downInDelay = downLogs.some((l) => !stopped || l.at < stopped.at);
  if (downInDelay) return [];
  const causes: Cause[] = [];
  for (const file of inputs.haproxy) {
    for (const line of checkLines(file.config, 'kubernetes')) {
      causes.push({ file: file.path, line: line.line, text: `the check (${describe(line)}) kept passing while kube-apiserver on ${node.name} was shutting down`, why: `HAProxy took the node out only after its listener closed, so requests sent in between failed. ${KUBE_DOCS.shutdown}. Check GET /readyz, often enough to see it within the shutdown delay (${plan.apiserver.shutdownDelayFrom.text})`, evidence: downLogs.length ? `HAProxy: "${downLogs[0].line.replace(/^.*?(Server )/, '$1').slice(0, 120)}" after the listener closed` : 'HAProxy never marked the node DOWN during the step' });
    }
    if (!checkLines(file.config, 'kubernetes').length) {
      const backend = proxies(file.config).find((s: HaproxySection) => s.kind !== 'frontend' && apiOf(file.config, s) === 'kubernetes');
      if (backend) causes.push({ file: file.path, line: backend.line, text: `backend ${backend.name} checks kube-apiserver with a TCP connect only`, why: `the port stays open during the shutdown delay and closes only when the server stops. ${KUBE_DOCS.shutdown}` });
    }
  }
  return causes;
}

/** The API was unready with its port open: the check never took the node out. */
function checkPassedWhileUnready(plan: RehearsalPlan, inputs: RehearsalInputs, step: StepResult, o: Observations): Cause[] {
  if (plan.mode !== 'files' || !step.losses.some((l) => l.what === 'requests')) return [];
  const down = o.logs.some((l) => l.engine === 'haproxy' && l.at >= step.startedAt && l.at <= step.endedAt && new RegExp(`Server \\S+/${escape(step.target ?? '')} is DOWN`).test(l.line));
  if (down) return [];
  return inputs.haproxy.flatMap((file) => {
    const lines = checkLines(file.config, 'kubernetes');
    const backend = proxies(file.config).find((s: HaproxySection) => s.kind !== 'frontend' && apiOf(file.config, s) === 'kubernetes');
    const where = lines[0] ?? backend;
    if (!where) return [];
    return [{ file: file.path, line: where.line, text: `the check (${lines[0] ? describe(lines[0]) : 'a TCP connect'}) kept passing while kube-apiserver on ${step.target} answered every request with 500`, why: 'only GET /readyz (200 when ready) tells an unready kube-apiserver from a ready one; a TCP connect or /livez passes while etcd is unreachable, so HAProxy keeps the node in rotation', evidence: `HAProxy never marked ${step.target} DOWN during the step` }];
  });
}

/** A reboot that cost requests: no way to drain the node first, no redispatch of a refused connect. */
function rebootWithoutDrain(inputs: RehearsalInputs, step: StepResult): Cause[] {
  if (step.requests.failed + step.talos.failed === 0) return [];
  const causes: Cause[] = [];
  for (const file of inputs.haproxy) {
    const config = file.config;
    if (step.actions.some((a) => a.includes('not drained'))) {
      const global = config.sections.find((s) => s.kind === 'global');
      causes.push({ file: file.path, line: global?.line ?? 1, text: 'no "stats socket … level admin": the node cannot be drained before its reboot', why: 'draining (set server BACKEND/SERVER state drain on the runtime API) stops new connections to the node before kube-apiserver stops; without it, requests keep going to the node until its check fails', source: 'https://docs.haproxy.org/2.6/management.html#9.3-set%20server' });
    }
    for (const section of proxies(config)) {
      if (section.kind === 'frontend' || !apiOf(config, section)) continue;
      const redispatch = effective(config, section, 'option', 'redispatch');
      const off = config.sections.some((s) => s.directives.some((d) => d.words[0] === 'no' && d.words[1] === 'option' && d.words[2] === 'redispatch'));
      if (redispatch && !off) continue;
      causes.push({ file: file.path, line: section.line, text: `${section.kind} ${section.name} has no "option redispatch"`, why: 'a connect the rebooting node refuses is retried on the same server (retries) and the client\'s connection is closed; with redispatch the last retry goes to another server', source: 'https://docs.haproxy.org/2.6/configuration.html#4-option%20redispatch' });
    }
  }
  return causes;
}

/** keepalived's vrrp_strict: the VIP answers no TCP unless the host owns it (priority 255) or `accept` is set. */
function strict(plan: RehearsalPlan, step: StepResult): Cause[] {
  if (step.requests.failed === 0) return [];
  const causes: Cause[] = [];
  for (const host of plan.lbHosts) {
    if (!host.keepalived) continue;
    const config = parseKeepalived(host.keepalived.text);
    const option = topLevel(config, 'global_defs').flatMap((g) => g.children).find((c) => c.keyword === 'vrrp_strict');
    const accept = topLevel(config, 'vrrp_instance').some((i) => i.children.some((c) => c.keyword === 'accept'));
    if (option && !accept && !causes.some((c) => c.file === host.keepalived!.source)) {
      causes.push({ file: host.keepalived.source, line: option.line, text: 'vrrp_strict without accept: keepalived drops every packet to the VIP that is not VRRP', why: 'strict RFC mode makes a non-owner master (priority below 255) refuse traffic to the VIP (keepalived.conf(5): accept/no_accept, "no_accept is the default with vrrp_strict"); clients time out although the VIP is held', evidence: `${step.requests.failed} request(s) to the VIP failed while ${step.holders.flat()[0] ?? 'an LB host'} held it` });
    }
  }
  return causes;
}
