import { createServer, connect, isIP, type Server, type Socket } from 'node:net';
import { EGRESS_PORT, EGRESS_SOCKET } from './bwrap.js';

/** A connection the proxy refused (recorded to explain an agent's failure as NETWORK_DENIED). */
export interface EgressDenial {
  host: string;
  port: number;
}

const MAX_HEAD_BYTES = 16 * 1024;

/**
 * An HTTP proxy on a Unix socket, run by Warden outside the sandbox: the sandbox has its own empty network
 * namespace, and this socket (mounted into it) is its only way out. It accepts `CONNECT host:port` (for
 * HTTPS and any TCP) and absolute-URI HTTP requests, and connects only to `host:port` pairs in the
 * manifest's `network.allow` (a leading `*.` matches subdomains). Anything else gets 403.
 */
export class EgressProxy {
  readonly denials: EgressDenial[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly socketPath: string,
    private readonly allow: readonly string[],
  ) {
    this.server = createServer((client) => this.handle(client));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  allows(host: string, port: number): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    // The check must hold for the exact name connected to: `127.0.0.1\0.example.com` ends with an allowed
    // suffix, and the resolver stops at the NUL.
    if (!isConnectableHost(h)) return false;
    return this.allow.some((entry) => {
      const at = entry.lastIndexOf(':');
      const allowHost = entry
        .slice(0, at)
        .toLowerCase()
        .replace(/^\[|\]$/g, '');
      if (Number(entry.slice(at + 1)) !== port) return false;
      return allowHost.startsWith('*.') ? h.endsWith(allowHost.slice(1)) : h === allowHost;
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) client.end('HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n');
        return;
      }
      client.off('data', onData);
      client.pause();
      this.route(client, head, end + 4);
    };
    client.on('data', onData);
  }

  private route(client: Socket, head: Buffer, bodyStart: number): void {
    const text = head.subarray(0, bodyStart).toString('latin1');
    const [requestLine = '', ...headerLines] = text.split('\r\n');
    const [method = '', target = '', version = 'HTTP/1.1'] = requestLine.split(' ');
    let host: string;
    let port: number;
    let forward: Buffer;
    if (method === 'CONNECT') {
      const at = target.lastIndexOf(':');
      host = target.slice(0, at);
      port = Number(target.slice(at + 1));
      forward = head.subarray(bodyStart);
    } else {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nabsolute URI required\n');
        return;
      }
      if (url.protocol !== 'http:') {
        client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nuse CONNECT for https\n');
        return;
      }
      host = url.hostname;
      port = Number(url.port || 80);
      const line = `${method} ${url.pathname}${url.search} ${version}`;
      // One request per connection: a kept-alive socket would carry the next request, for any host, to
      // this upstream without a check.
      const headers = headerLines.filter(
        (l) => l !== '' && !/^(proxy-[a-z-]*|connection|keep-alive):/i.test(l),
      );
      forward = Buffer.concat([
        Buffer.from(`${[line, ...headers, 'Connection: close'].join('\r\n')}\r\n\r\n`, 'latin1'),
        head.subarray(bodyStart),
      ]);
    }
    if (!Number.isInteger(port) || port <= 0 || port > 65535 || !this.allows(host, port)) {
      this.denials.push({ host, port });
      client.end(
        `HTTP/1.1 403 Forbidden\r\nX-Warden-Error: NETWORK_DENIED\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    const upstream = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => {
      if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n');
    });
    upstream.on('connect', () => {
      if (method === 'CONNECT') client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (forward.length) upstream.write(forward);
      client.pipe(upstream).on('error', () => upstream.destroy());
      upstream.pipe(client).on('error', () => client.destroy());
      client.resume();
    });
  }
}

/**
 * Runs inside the sandbox (node -e) in front of the agent: listens on 127.0.0.1:3128 of the sandbox's own
 * network namespace, relays every connection to the proxy's socket, then starts the agent and exits as it
 * does. It enforces nothing itself — the agent could replace it and still reach only the proxy.
 */
export const FORWARDER_SOURCE = `
const net = require('node:net');
const { spawn } = require('node:child_process');
const server = net.createServer((c) => {
  const up = net.connect(${JSON.stringify(EGRESS_SOCKET)});
  c.pipe(up).on('error', () => c.destroy());
  up.pipe(c).on('error', () => up.destroy());
  c.on('error', () => up.destroy());
  up.on('error', () => c.destroy());
});
server.listen(${EGRESS_PORT}, '127.0.0.1', () => {
  const [file, ...args] = process.argv.slice(1);
  const child = spawn(file, args, { stdio: 'inherit' });
  child.on('error', (e) => { console.error(e.message); process.exit(127); });
  child.on('exit', (code, sig) => {
    server.close();
    if (sig) process.kill(process.pid, sig);
    process.exit(code ?? 1);
  });
});
`;

export const PROXY_ENV = {
  HTTP_PROXY: `http://127.0.0.1:${EGRESS_PORT}`,
  HTTPS_PROXY: `http://127.0.0.1:${EGRESS_PORT}`,
  http_proxy: `http://127.0.0.1:${EGRESS_PORT}`,
  https_proxy: `http://127.0.0.1:${EGRESS_PORT}`,
};

const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** An IP address or a DNS name of letters, digits, `-` and `_`: nothing a resolver would read differently. */
export function isConnectableHost(host: string): boolean {
  return isIP(host) !== 0 || DNS_NAME.test(host);
}
