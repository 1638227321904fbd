import type { IncomingMessage, Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../lib/logger.ts';

/**
 * The sandbox's HTTPS proxy: `CONNECT host:port` on the sandbox's http port, for the hosts cloud
 * SDKs insist on reaching whatever they are configured with. MSAL (inside @azure/identity)
 * asks https://login.microsoftonline.com/common/discovery/instance about every authority it does
 * not know, the sandbox's included, and refuses the authority if it gets no answer; Google's
 * libraries call IAM Credentials for impersonation and Cloud Resource Manager for a project at
 * fixed URLs. With `HTTPS_PROXY` pointing here, those requests are tunnelled to the emulators'
 * https port, served with the certificate that names those hosts.
 *
 * Every target it tunnels to is a loopback port given at construction; it never resolves or dials
 * the host a client names. Any other CONNECT is refused with 403 and logged, so a process that
 * tried to leave the machine shows in the sandbox's log instead of hanging or succeeding.
 */

export interface ConnectProxyRoute {
  /** Lower-case `host:port` as the client sends it in `CONNECT`. */
  authority: string;
  /** The loopback port the tunnel goes to. */
  port: number;
}

export interface ConnectProxyOptions {
  /** Loopback address the tunnels dial (the sandbox's own bind address). */
  loopbackHost: string;
  routes: readonly ConnectProxyRoute[];
  logger?: Logger | undefined;
}

export interface ConnectProxy {
  /** Ends every open tunnel (the http server's own close does not see them). */
  close(): void;
}

// `host:port` (authority-form, RFC 9110 §9.3.6): a name or a bracketed IPv6 address, then a port.
const AUTHORITY = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;

function refuse(socket: Duplex, status: 400 | 403 | 502, reason: string, detail: string): void {
  const body = `airlock sandbox proxy: ${detail}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Handles `CONNECT` on `server` (an http server that has no other `connect` listener). */
export function attachConnectProxy(server: Server, o: ConnectProxyOptions): ConnectProxy {
  const routes = new Map(o.routes.map((r) => [r.authority.toLowerCase(), r.port]));
  const allowed = o.routes.map((r) => r.authority).join(', ');
  const open = new Set<Duplex>();
  const track = (s: Duplex) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const target = req.url ?? '';
    const from = (client as Partial<Socket>).remoteAddress;
    if (!AUTHORITY.test(target)) {
      o.logger?.warn('sandbox proxy: refused a malformed CONNECT', { target: target.slice(0, 300), from });
      refuse(client, 400, 'Bad Request', 'CONNECT needs host:port');
      return;
    }
    const port = routes.get(target.toLowerCase());
    if (port === undefined) {
      o.logger?.warn('sandbox proxy: refused CONNECT (only the hosts the sandbox emulates are tunnelled)', { target, from, allowed });
      refuse(client, 403, 'Forbidden', `CONNECT ${target} refused; this proxy only tunnels ${allowed} to the sandbox's emulators`);
      return;
    }
    const upstream = connect({ host: o.loopbackHost, port });
    track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      o.logger?.debug('sandbox proxy: tunnel opened', { target, from, port });
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err) => {
      if (!connected) {
        o.logger?.error('sandbox proxy: the emulator behind a tunnel is unreachable', { target, port, err });
        refuse(client, 502, 'Bad Gateway', `the emulator for ${target} is not reachable`);
      } else {
        client.destroy();
      }
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  return {
    close() {
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}
