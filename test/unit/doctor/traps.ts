// The traps users really hit, as fixtures under test/fixtures/doctor/traps/<trap>/: each trap has bad
// cases in at least two syntaxes (each with every finding doctor must report, and nothing else) and good
// twins that must stay clean. traps.test.ts checks doctor's rules on them; the engines test runs
// haproxy -c, keepalived -t and terraform fmt -check on the same files and records what they catch.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DoctorInput } from '../../../src/doctor/run.js';
import type { Severity } from '../../../src/doctor/finding.js';
import { ROOT } from '../../helpers/cli.js';

export const TRAPS_DIR = join(ROOT, 'test/fixtures/doctor/traps');

/** [rule, line, severity, file] — file defaults to the case's only file. */
export type Expected = [rule: string, line: number, severity: Severity, file?: string];

export interface BadCase {
  /** A file or a directory (all files in it, checked together), relative to the trap's folder. */
  path: string;
  /** What makes this syntax different from the other case(s). */
  syntax: string;
  expect: Expected[];
}

export interface Trap {
  dir: string;
  rules: string[];
  bad: BadCase[];
  /** Files or directories that must produce no warning or error (and no finding of the trap's rules). */
  good: string[];
  /** Files added to every case (the spec a drift case is compared with). */
  with?: string[];
}

export const TRAPS: Trap[] = [
  {
    dir: 'tls-check-identity', rules: ['haproxy/verifyhost-ip', 'haproxy/verify-ip-san'],
    bad: [
      { path: 'bad-default-server.cfg', syntax: 'frontend + backend, verify required on default-server, verifyhost <address> per server', expect: [['haproxy/verifyhost-ip', 19, 'error'], ['haproxy/verifyhost-ip', 20, 'error'], ['haproxy/verifyhost-ip', 21, 'error']] },
      { path: 'bad-listen-check-sni.cfg', syntax: 'listen, verify by default, IPv6 servers, check-sni <address> on one', expect: [['haproxy/verify-ip-san', 15, 'info'], ['haproxy/verifyhost-ip', 17, 'error']] },
      { path: 'bad-connect-ssl.cfg', syntax: 'http-check connect ssl, which does not send the servers\' check-sni names', expect: [['haproxy/verify-ip-san', 17, 'warning']] },
    ],
    good: ['good-names.cfg', 'good-connect-default.cfg'],
  },
  {
    dir: 'httpchk-without-ssl', rules: ['haproxy/httpchk-without-ssl'],
    bad: [
      { path: 'bad-frontend-backend.cfg', syntax: 'frontend + backend, option httpchk, per-server check', expect: [['haproxy/httpchk-without-ssl', 17, 'error']] },
      { path: 'bad-listen-named-defaults.cfg', syntax: 'named defaults + from, http-check send, listen, server-template', expect: [['haproxy/httpchk-without-ssl', 19, 'error']] },
    ],
    good: ['good.cfg', 'good-listen-named-defaults.cfg'],
  },
  {
    dir: 'healthz', rules: ['haproxy/healthz-check', 'spec/healthz-check', 'terraform/healthz-check'],
    bad: [
      { path: 'bad-option-httpchk.cfg', syntax: 'HAProxy option httpchk GET /healthz', expect: [['haproxy/healthz-check', 13, 'warning']] },
      { path: 'bad-http-check-send.cfg', syntax: 'HAProxy 2.2+ http-check send uri /healthz', expect: [['haproxy/healthz-check', 13, 'warning']] },
      { path: 'bad-top-level.endpoint.yaml', syntax: 'spec, top-level healthCheck', expect: [['spec/healthz-check', 11, 'warning']] },
      { path: 'bad-listener.endpoint.yaml', syntax: 'spec, listener healthCheck in flow style', expect: [['spec/healthz-check', 12, 'warning']] },
      { path: 'bad-target-group.tf', syntax: 'Terraform literal path', expect: [['terraform/healthz-check', 8, 'warning']] },
      { path: 'bad-variable.tf', syntax: 'Terraform path from a variable default', expect: [['terraform/healthz-check', 13, 'warning']] },
    ],
    good: ['good-option-httpchk.cfg', 'good-http-check-send.cfg', 'good.endpoint.yaml', 'good-target-group.tf'],
  },
  {
    dir: 'http-health-check-tls-port', rules: ['terraform/http-health-check-tls-port'],
    bad: [
      { path: 'bad-literal.tf', syntax: 'protocol = "HTTP" on port 6443, literal', expect: [['terraform/http-health-check-tls-port', 7, 'error']] },
      { path: 'bad-variable', syntax: 'protocol and port from variables and .tfvars', expect: [['terraform/http-health-check-tls-port', 16, 'error', 'bad-variable/main.tf']] },
    ],
    good: ['good.tf'],
  },
  {
    dir: 'mode-http-api', rules: ['haproxy/mode-http-api'],
    bad: [
      { path: 'bad-defaults.cfg', syntax: 'mode http in defaults, inherited by frontend and backend', expect: [['haproxy/mode-http-api', 6, 'error']] },
      { path: 'bad-listen.cfg', syntax: 'mode http in a listen section (Talos API)', expect: [['haproxy/mode-http-api', 8, 'error']] },
    ],
    good: ['good.cfg', 'good-other-services.cfg'],
  },
  {
    dir: 'duplicate-vrid', rules: ['keepalived/duplicate-vrid'],
    bad: [
      { path: 'bad-one-file.conf', syntax: 'two instances in one file, braces on their own lines, ! comments', expect: [['keepalived/duplicate-vrid', 20, 'error']] },
      {
        path: 'bad-two-clusters', syntax: 'two clusters\' pairs in two files',
        expect: [['keepalived/duplicate-vrid', 14, 'error', 'bad-two-clusters/cluster-a-lb.conf'], ['keepalived/duplicate-vrid', 14, 'error', 'bad-two-clusters/cluster-b-lb.conf']],
      },
    ],
    good: ['good-one-file.conf'],
  },
  {
    dir: 'unicast-peers', rules: ['keepalived/unicast-peers'],
    bad: [
      { path: 'bad-one-side', syntax: 'unicast on one peer, multicast on the other', expect: [['keepalived/unicast-peers', 21, 'error', 'bad-one-side/lb-01.conf']] },
      { path: 'bad-not-listed', syntax: 'a peer list that misses the other node', expect: [['keepalived/unicast-peers', 20, 'error', 'bad-not-listed/lb-01.conf']] },
    ],
    good: ['good'],
  },
  {
    dir: 'peer-mismatch', rules: ['keepalived/peer-mismatch'],
    bad: [
      { path: 'bad-advert-int', syntax: 'advert_int 1 vs 3', expect: [['keepalived/peer-mismatch', 19, 'error', 'bad-advert-int/lb-01.conf'], ['keepalived/peer-mismatch', 19, 'error', 'bad-advert-int/lb-02.conf']] },
      { path: 'bad-vip-list', syntax: 'a VIP only one peer holds', expect: [['keepalived/peer-mismatch', 26, 'warning', 'bad-vip-list/lb-01.conf']] },
    ],
    good: ['good'],
  },
  {
    dir: 'equal-masters', rules: ['keepalived/equal-masters'],
    bad: [
      { path: 'bad-both-master', syntax: 'unicast pair, both MASTER 100', expect: [['keepalived/equal-masters', 18, 'warning', 'bad-both-master/lb-01.conf'], ['keepalived/equal-masters', 18, 'warning', 'bad-both-master/lb-02.conf']] },
      { path: 'bad-multicast', syntax: 'multicast pair from one template, braces on their own lines', expect: [['keepalived/equal-masters', 7, 'warning', 'bad-multicast/lb-a.conf'], ['keepalived/equal-masters', 7, 'warning', 'bad-multicast/lb-b.conf']] },
    ],
    good: ['good'],
  },
  {
    dir: 'tcp-connect-check', rules: ['keepalived/tcp-connect-check'],
    bad: [
      { path: 'bad-dev-tcp-nc.conf', syntax: 'bash /dev/tcp and nc -z to loopback and localhost', expect: [['keepalived/tcp-connect-check', 8, 'warning'], ['keepalived/tcp-connect-check', 15, 'warning']] },
      {
        path: 'bad-own-addresses.conf', syntax: 'check_tcp to the VIP, curl telnet:// to unicast_src_ip, socat to [::1]; braces on their own lines, ! comments',
        expect: [['keepalived/tcp-connect-check', 11, 'warning'], ['keepalived/tcp-connect-check', 18, 'warning'], ['keepalived/tcp-connect-check', 25, 'warning']],
      },
    ],
    good: ['good-http.conf', 'good-rendered.conf'],
  },
  {
    dir: 'auth-pass-length', rules: ['keepalived/auth-pass-length'],
    bad: [
      { path: 'bad-unquoted.conf', syntax: 'unquoted password', expect: [['keepalived/auth-pass-length', 9, 'warning']] },
      { path: 'bad-quoted.conf', syntax: 'quoted password with a space and a ! comment', expect: [['keepalived/auth-pass-length', 11, 'warning']] },
    ],
    good: ['good.conf'],
  },
  {
    dir: 'vip-subnet-keepalived', rules: ['keepalived/vip-subnet'],
    bad: [
      { path: 'bad-src.conf', syntax: 'unicast_src_ip in another subnet', expect: [['keepalived/vip-subnet', 12, 'error']] },
      { path: 'bad-peers.conf', syntax: 'unicast peers only, VIP with dev and label', expect: [['keepalived/vip-subnet', 12, 'error']] },
    ],
    good: ['good.conf'],
  },
  {
    dir: 'keepalived-unknown-keyword', rules: ['keepalived/unknown-keyword'],
    bad: [
      { path: 'bad-instance.conf', syntax: 'in a vrrp_instance', expect: [['keepalived/unknown-keyword', 5, 'error']] },
      {
        path: 'bad-global-script.conf', syntax: 'in global_defs and a vrrp_script',
        expect: [['keepalived/unknown-keyword', 3, 'error'], ['keepalived/script-security', 7, 'warning'], ['keepalived/unknown-keyword', 9, 'error']],
      },
    ],
    good: ['good.conf'],
  },
  {
    dir: 'haproxy-unknown-keyword', rules: ['haproxy/unknown-keyword'],
    bad: [
      { path: 'bad-section.cfg', syntax: 'section keyword, timeout and option names', expect: [['haproxy/unknown-keyword', 4, 'error'], ['haproxy/unknown-keyword', 14, 'error'], ['haproxy/unknown-keyword', 16, 'error']] },
      { path: 'bad-server.cfg', syntax: 'server settings', expect: [['haproxy/server-without-check', 13, 'error'], ['haproxy/unknown-keyword', 13, 'error'], ['haproxy/unknown-keyword', 14, 'error']] },
    ],
    good: ['good.cfg'],
  },
  {
    dir: 'endpoint-url', rules: ['talos/endpoint-url'],
    bad: [
      { path: 'bad-no-port.yaml', syntax: 'machine config, https without a port', expect: [['talos/endpoint-url', 7, 'error']] },
      { path: 'bad-http.json', syntax: 'JSON 6902 patch, http://', expect: [['talos/endpoint-url', 5, 'error']] },
    ],
    good: ['good.yaml', 'good.json'],
  },
  {
    dir: 'endpoint-is-node', rules: ['talos/endpoint-is-node'],
    bad: [
      { path: 'bad-legacy.yaml', syntax: 'legacy interfaces[].vip', expect: [['talos/endpoint-is-node', 15, 'warning']] },
      { path: 'bad-documents.yaml', syntax: 'multi-document LinkConfig + Layer2VIPConfig', expect: [['talos/endpoint-is-node', 5, 'warning']] },
    ],
    good: ['good-legacy.yaml', 'good-documents.yaml'],
  },
  {
    dir: 'vip-on-worker', rules: ['talos/vip-on-worker'],
    bad: [
      { path: 'bad-legacy.yaml', syntax: 'legacy interfaces[].vip on a DHCP worker', expect: [['talos/vip-on-worker', 11, 'error']] },
      { path: 'bad-documents.yaml', syntax: 'Layer2VIPConfig document in a worker config', expect: [['talos/vip-on-worker', 16, 'error']] },
    ],
    good: ['good-documents.yaml'],
  },
  {
    dir: 'vip-link', rules: ['talos/vip-link'],
    bad: [
      { path: 'bad-typo.yaml', syntax: 'misspelt link', expect: [['talos/vip-link', 12, 'warning']] },
      { path: 'bad-alias.yaml', syntax: 'kernel name of an aliased link', expect: [['talos/vip-link', 17, 'warning']] },
    ],
    good: ['good-alias.yaml', 'good-vlan.yaml'],
  },
  {
    dir: 'talosconfig-endpoint-port', rules: ['talos/talosconfig-endpoint-port'],
    bad: [
      {
        path: 'bad-6443-talosconfig', syntax: 'block list with the Kubernetes port',
        expect: [['talos/talosconfig-endpoint-port', 5, 'warning'], ['talos/talosconfig-endpoint-port', 6, 'warning'], ['talos/talosconfig-endpoint-port', 7, 'warning']],
      },
      { path: 'bad-url-talosconfig', syntax: 'flow list with a URL', expect: [['talos/talosconfig-endpoint-port', 4, 'error']] },
    ],
    good: ['good-talosconfig'],
  },
  {
    dir: 'certsans-endpoint', rules: ['talos/certsans-endpoint'],
    bad: [
      { path: 'bad-spec', syntax: 'spec endpoint other than the machine config\'s', expect: [['talos/certsans-endpoint', 8, 'warning', 'bad-spec/controlplane.yaml']] },
      { path: 'bad-talosconfig', syntax: 'talosctl through a balancer address', expect: [['talos/certsans-endpoint', 3, 'warning', 'bad-talosconfig/controlplane.yaml']] },
    ],
    // The former false positive: Talos adds the endpoint's host to the API server certificate itself.
    // Talos also puts every address of the node (VLANs included) in both certificates, so talosctl through any
    // node's address, or kubectl to an endpoint that is a node's address, needs no certSANs (issue 22).
    good: ['good-endpoint-added-by-talos.yaml', 'good-talosconfig', 'good-other-nodes', 'good-vlan', 'good-spec-endpoint-is-node'],
  },
  {
    dir: 'spec-quorum', rules: ['spec/quorum'],
    bad: [
      { path: 'bad-two-nodes-vip.endpoint.yaml', syntax: 'block style, a VIP', expect: [['spec/quorum', 4, 'warning'], ['spec/vip-without-peers', 9, 'info']] },
      { path: 'bad-two-nodes-balancer.endpoint.yaml', syntax: 'JSON, a balancer\'s DNS name', expect: [['spec/quorum', 2, 'warning']] },
      { path: 'notice-single-node.endpoint.yaml', syntax: 'the guide\'s single control plane: a notice', expect: [['spec/quorum', 4, 'info']] },
    ],
    good: ['good.endpoint.yaml'],
  },
  {
    dir: 'haproxy-quorum', rules: ['haproxy/quorum'],
    bad: [
      { path: 'bad-backend.cfg', syntax: 'two server lines', expect: [['haproxy/quorum', 15, 'warning']] },
      { path: 'bad-server-template.cfg', syntax: 'server-template 1-2 in a listen section', expect: [['haproxy/quorum', 15, 'warning']] },
    ],
    good: ['good-server-template.cfg'],
  },
  {
    dir: 'terraform-quorum', rules: ['terraform/quorum'],
    bad: [
      { path: 'bad-tfvars', syntax: 'count from .tfvars', expect: [['terraform/quorum', 6, 'warning', 'bad-tfvars/main.tf']] },
      { path: 'bad-default.tf', syntax: 'count from a variable default', expect: [['terraform/quorum', 7, 'warning']] },
    ],
    good: ['good.tf'],
  },
  {
    dir: 'https-check-talos', rules: ['spec/https-check-talos'],
    bad: [
      { path: 'bad-top-level.endpoint.yaml', syntax: 'top-level healthCheck inherited by the default listeners', expect: [['spec/https-check-talos', 9, 'error']] },
      { path: 'bad-listener.endpoint.yaml', syntax: 'a Talos listener (by port) with its own https check', expect: [['spec/https-check-talos', 9, 'error']] },
    ],
    good: ['good.endpoint.yaml'],
  },
  {
    dir: 'ipv6-bind', rules: ['spec/ipv6-endpoint-ipv4-bind'],
    bad: [
      { path: 'bad-default-bind.endpoint.yaml', syntax: 'default bind, an LB pair\'s VIP', expect: [['spec/ipv6-endpoint-ipv4-bind', 8, 'warning']] },
      { path: 'bad-explicit-bind.endpoint.yaml', syntax: 'bind: 0.0.0.0 written out', expect: [['spec/ipv6-endpoint-ipv4-bind', 8, 'warning']] },
    ],
    good: ['good.endpoint.yaml'],
  },
  {
    dir: 'kernel-mode', rules: ['spec/kernel-mode-proxy-settings'],
    bad: [
      {
        path: 'bad-balancer.endpoint.yaml', syntax: 'block style balancer settings',
        expect: [['spec/kernel-mode-proxy-settings', 9, 'warning'], ['spec/kernel-mode-proxy-settings', 10, 'warning'], ['spec/kernel-mode-proxy-settings', 11, 'warning']],
      },
      { path: 'bad-listener-replay.endpoint.yaml', syntax: 'flow style, a listener\'s replay', expect: [['spec/kernel-mode-proxy-settings', 7, 'warning'], ['spec/kernel-mode-proxy-settings', 9, 'warning']] },
    ],
    good: ['good-kernel.endpoint.yaml', 'good-proxy.endpoint.yaml'],
  },
  {
    dir: 'drift', rules: ['haproxy/drift', 'keepalived/drift', 'talos/drift', 'terraform/drift'], with: ['spec.endpoint.yaml'],
    bad: [
      { path: 'bad-haproxy', syntax: 'haproxy.cfg: a replaced server, check inter, timeout tunnel', expect: [['haproxy/drift', 9, 'warning', 'bad-haproxy/haproxy.cfg'], ['haproxy/drift', 19, 'warning', 'bad-haproxy/haproxy.cfg'], ['haproxy/drift', 20, 'warning', 'bad-haproxy/haproxy.cfg']] },
      {
        path: 'bad-keepalived', syntax: 'keepalived.conf: VRID, priority, VIP prefix',
        expect: [['keepalived/drift', 14, 'warning', 'bad-keepalived/keepalived-lb-01.conf'], ['keepalived/drift', 18, 'warning', 'bad-keepalived/keepalived-lb-01.conf'], ['keepalived/drift', 25, 'warning', 'bad-keepalived/keepalived-lb-01.conf']],
      },
      {
        path: 'bad-talos', syntax: 'Talos: endpoint host and port, a Talos VIP the LB pair owns',
        expect: [['talos/certsans-endpoint', 5, 'warning', 'bad-talos/controlplane.yaml'], ['talos/drift', 5, 'warning', 'bad-talos/controlplane.yaml'], ['talos/drift', 5, 'warning', 'bad-talos/controlplane.yaml'], ['talos/drift', 9, 'warning', 'bad-talos/controlplane.yaml']],
      },
      {
        path: 'bad-terraform', syntax: 'Terraform: listener port, deregistration delay, interval and a TCP idle timeout through variables, a TCP listener without one',
        expect: [
          ['terraform/drift', 11, 'warning', 'bad-terraform/main.tf'], ['terraform/drift', 23, 'warning', 'bad-terraform/main.tf'], ['terraform/drift', 25, 'warning', 'bad-terraform/main.tf'],
          ['terraform/drift', 36, 'warning', 'bad-terraform/main.tf'], ['terraform/drift', 38, 'warning', 'bad-terraform/main.tf'], ['terraform/drift', 46, 'warning', 'bad-terraform/main.tf'],
        ],
      },
    ],
    good: ['good-hand-written'],
  },
];

/** The files of a case (a file, or every file of a directory), as doctor inputs with paths relative to the trap. */
export function inputs(trap: Trap, path: string): DoctorInput[] {
  const dir = join(TRAPS_DIR, trap.dir);
  const files = statSync(join(dir, path)).isDirectory() ? readdirSync(join(dir, path)).sort().map((f) => join(path, f)) : [path];
  return [...(trap.with ?? []), ...files].map((file) => ({ path: file, text: readFileSync(join(dir, file), 'utf8') }));
}
