// https: GET check.path over TLS (Connection: close); healthy iff the status is one of expectStatuses.
import { request, type RequestOptions } from 'node:https';
import type { ClientRequest } from 'node:http';
import { asCheckResult, attempt, errorCode, tlsOptions } from './attempt.js';
import type { Probe } from './index.js';

export const httpsProbe: Probe = (target, check, signal) => {
  let req: ClientRequest | undefined;
  return attempt(check.timeoutMs, signal, async (a) => {
    const options: RequestOptions = {
      ...(await tlsOptions(target, check)),
      method: 'GET',
      path: check.path,
      agent: false,
      headers: { connection: 'close', 'user-agent': 'cluster-endpoint-health-check', accept: '*/*' },
    };
    if (a.settled) return;
    // Which phase failed tells the operator where to look: the network, TLS, or the HTTP server.
    let phase: 'connect' | 'tls' | 'https' = 'connect';
    req = request(options, (res) => {
      res.on('error', () => { /* we destroy the response on purpose once the status is known */ });
      const status = res.statusCode ?? 0;
      const ok = check.expectStatuses.includes(status);
      a.settle(ok, ok ? `https ${status}` : `https ${status} (expected ${check.expectStatuses.join('|')})`);
    });
    req.once('socket', (socket) => {
      socket.once('connect', () => { phase = 'tls'; });
      socket.once('secureConnect', () => { phase = 'https'; });
    });
    req.on('error', (error) => a.settle(false, `${phase} ${errorCode(error)}`));
    req.end();
  }, () => req?.destroy()).then(asCheckResult);
};
