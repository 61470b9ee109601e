// keepalived/tcp-connect-check's reading of a check script: the spellings of "open a TCP connection and nothing
// more" (generated: tool, options, wrapper, address and port), and the checks that read an HTTP answer or look at a
// process, which it leaves alone (the latter are keepalived/pidof-check's).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { tcpConnectOf } from '../../../src/doctor/rules/keepalived/tcp-connect-check.js';

const host = fc.constantFrom('127.0.0.1', '127.0.1.1', 'localhost', '192.168.30.30', '::1');
const port = fc.integer({ min: 1, max: 65535 });
const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);
/** Each spelling of a bare connect, as a command line for host and port. */
const spellings: Array<[string, (h: string, p: number) => string]> = [
  ['bash /dev/tcp', (h, p) => `</dev/tcp/${h}/${p}`],
  ['bash /dev/tcp', (h, p) => `exec 3<>/dev/tcp/${h}/${p}`],
  ['nc -z', (h, p) => `nc -z ${h} ${p}`],
  ['nc -z', (h, p) => `nc -zv -w 1 ${h} ${p}`],
  ['ncat -z', (h, p) => `ncat -z ${h} ${p}`],
  ['nc', (h, p) => `nc -w 1 ${h} ${p} < /dev/null`],
  ['curl telnet://', (h, p) => `curl -s --max-time 1 telnet://${bracket(h)}:${p}`],
  ['socat TCP:', (h, p) => `socat -u /dev/null TCP:${bracket(h)}:${p}`],
  ['check_tcp', (h, p) => `/usr/lib/nagios/plugins/check_tcp -H ${h} -p ${p}`],
];
const wrap = fc.constantFrom((c: string) => c, (c: string) => `/usr/bin/timeout 1 ${c}`, (c: string) => `/bin/bash -c '${c}'`, (c: string) => `/usr/bin/timeout 2 /bin/sh -c '${c} >/dev/null 2>&1'`);

test('every spelling of a bare TCP connect is recognised, with its address and port, however it is wrapped', () => {
  fc.assert(fc.property(fc.constantFrom(...spellings), host, port, wrap, ([spelling, make], h, p, w) => {
    const found = tcpConnectOf(w(make(h, p)));
    assert.deepEqual(found, { spelling, host: h, port: p }, w(make(h, p)));
  }), { seed: 19_05, numRuns: 300 });
});

test('checks that read an HTTP answer, or look at a process, are left alone', () => {
  for (const command of [
    // render keepalived's own: GET HAProxy's monitor /ready and want 200.
    "/usr/bin/timeout 1 /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/8404 && { echo GET /ready HTTP/1.0; echo; } >&3 && /usr/bin/head -n1 <&3 | /usr/bin/grep -qw 200'",
    '/usr/bin/curl -sf http://127.0.0.1:8404/ready',
    '/usr/bin/curl -sfk https://127.0.0.1:6443/readyz',
    'wget -q -O /dev/null http://localhost:8404/ready',
    "/bin/sh -c 'printf \"GET /ready HTTP/1.0\\r\\n\\r\\n\" | nc 127.0.0.1 8404 | grep -q 200'",
    '/usr/lib/nagios/plugins/check_tcp -H 127.0.0.1 -p 8404 -s "GET /ready HTTP/1.0" -e "200"',
    'killall -0 haproxy',
    'pidof haproxy',
    '/etc/keepalived/check_haproxy.sh',
  ]) assert.equal(tcpConnectOf(command), undefined, command);
});
