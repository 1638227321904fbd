import net from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1']);

/**
 * Makes any TCP connection beyond loopback throw, and records the host. A refusal the SDK
 * swallowed (a metadata probe, instance discovery) still shows in `blocked`.
 */
export function guardLoopback(): { blocked: string[]; restore(): void } {
  const blocked: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back as it was, by identity
  const realConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    // Node hands connect() either normalized [options, cb] or the public (options|port, host) forms.
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const host = typeof first === 'object' && first !== null ? (first as { host?: string; path?: string }) : { host: typeof args[1] === 'string' ? args[1] : undefined };
    if (!('path' in host && host.path) && host.host !== undefined && !LOOPBACK.has(host.host)) {
      blocked.push(host.host);
      throw new Error(`test guard: refused a connection to ${host.host}; nothing may leave 127.0.0.1`);
    }
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  return {
    blocked,
    restore() {
      net.Socket.prototype.connect = realConnect;
    },
  };
}
