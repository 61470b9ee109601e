import { isIP } from 'node:net';
import { defineRule } from '../../context.js';
import { child, topLevel } from '../../parsers/keepalived.js';
import { instances } from './instances.js';

/** A check that only opens a TCP connection: the tool as written, and where it connects. */
export interface TcpConnect {
  spelling: string;
  host: string;
  port: number;
}

/** An HTTP request in the script (a request line it writes, a URL it fetches): it reads an answer, not just a connect. */
const HTTP_REQUEST = /\b(GET|HEAD)\s+\/|\b(curl|wget)\b[^;&|]*\bhttps?:\/\//;

/**
 * The TCP connect a check script makes and nothing more, or undefined (an HTTP request, a process check, a script
 * in a file of its own). Recognised: nc/ncat/netcat (-z, or with nothing to send), bash's /dev/tcp/HOST/PORT,
 * curl's telnet://, socat TCP:HOST:PORT, and the monitoring plugins' check_tcp without a string to send.
 */
export function tcpConnectOf(command: string): TcpConnect | undefined {
  if (HTTP_REQUEST.test(command)) return undefined;
  const devTcp = /\/dev\/tcp\/([^/\s'"]+)\/(\d+)/.exec(command);
  if (devTcp) return { spelling: 'bash /dev/tcp', host: devTcp[1], port: Number(devTcp[2]) };
  const telnet = /\b(curl|wget)\b[^;&|]*\btelnet:\/\/(\[[^\]]+\]|[^:/\s'"]+):(\d+)/.exec(command);
  if (telnet) return { spelling: `${telnet[1]} telnet://`, host: telnet[2].replace(/^\[|\]$/g, ''), port: Number(telnet[3]) };
  const socat = /\bsocat\b[^;&|]*\bTCP[46]?:(\[[^\]]+\]|[^:\s'"]+):(\d+)/i.exec(command);
  if (socat) return { spelling: 'socat TCP:', host: socat[1].replace(/^\[|\]$/g, ''), port: Number(socat[2]) };
  const checkTcp = /\bcheck_tcp\b([^;&|]*)/.exec(command);
  if (checkTcp && !/\s-(s|e|E)\b|--(send|expect)\b/.test(checkTcp[1])) {
    const host = /\s(?:-H|--hostname)[\s=]+(\S+)/.exec(checkTcp[1])?.[1];
    const port = /\s(?:-p|--port)[\s=]+(\d+)/.exec(checkTcp[1])?.[1];
    if (host && port) return { spelling: 'check_tcp', host, port: Number(port) };
  }
  const nc = /(?:^|[\s/;&|('"])(nc|ncat|netcat)\s+([^;&|'"]*)/.exec(command);
  if (nc) {
    const words = nc[2].trim().split(/\s+/);
    const operands: string[] = [];
    for (let i = 0; i < words.length; i++) {
      // Options that take a value (-w 1, -i 1, -s ADDR, -p PORT, -q 0) and redirections (< /dev/null) go with it.
      if (/^-[wispqxX]$/.test(words[i]) || /^\d?[<>]{1,2}$/.test(words[i])) { i++; continue; }
      if (!words[i].startsWith('-') && !/^\d?[<>]/.test(words[i])) operands.push(words[i]);
    }
    const [host, port] = operands.slice(-2);
    if (host && /^\d+$/.test(port ?? '')) return { spelling: /\s-[a-zA-Z]*z/.test(` ${nc[2]}`) ? `${nc[1]} -z` : nc[1], host, port: Number(port) };
  }
  return undefined;
}

/** Loopback, any address, or one of this host's own VRRP addresses (the VIP, unicast_src_ip): HAProxy on this host. */
function isLocal(host: string, own: ReadonlySet<string>): boolean {
  const plain = host.replace(/^\[|\]$/g, '');
  if (plain === 'localhost' || plain === '::1' || plain === '0.0.0.0' || plain === '::' || /^127\./.test(plain)) return true;
  return isIP(plain) !== 0 && own.has(plain);
}

/** A track script that only connects to the local HAProxy: HAProxy accepts with every server down. */
export const keepalivedTcpConnectCheck = defineRule({
  id: 'keepalived/tcp-connect-check',
  kind: 'keepalived',
  check(file) {
    const own = new Set(instances(file).flatMap((i) => [...i.vips.map((v) => v.address), ...(i.unicastSrc ? [i.unicastSrc.address] : [])]));
    return topLevel(file.config, 'vrrp_script').flatMap((script) => {
      const command = child(script, 'script');
      const connect = command && tcpConnectOf(command.args.join(' '));
      if (!connect || !isLocal(connect.host, own)) return [];
      return [{
        severity: 'warning' as const,
        line: command.line,
        message: `vrrp_script ${script.args[0] ?? ''} only opens a TCP connection to ${connect.host} port ${connect.port} (${connect.spelling}): it passes while HAProxy runs, whether or not any server behind it is up`,
        why: 'HAProxy accepts a connection on its frontend even with every server of the backend down (then closes it), so an LB host cut off from the control plane (its link to the nodes down, a firewall, every check failing) keeps passing the check and keeps the VIP, while every request through it fails and the healthy peer stays backup',
        source: 'https://docs.haproxy.org/2.6/configuration.html#4-monitor-uri and #4-monitor%20fail (an HTTP answer that fails while a condition such as a backend without a live server holds) ; measured with HAProxy 2.6 (a frontend with every server down accepts, then closes), docs/render/keepalived.md',
        fix: 'check through HAProxy to a live server: a monitor-uri on a local HTTP frontend with "monitor fail unless <an acl of srv_is_up(backend/server) for each server>", fetched with e.g. curl -sf http://127.0.0.1:8404/ready (render keepalived and render haproxy write this pair), or an HTTPS request through the frontend, e.g. curl -sfk https://127.0.0.1:6443/readyz',
      }];
    });
  },
});
