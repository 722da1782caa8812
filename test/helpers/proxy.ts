// A TCP proxy in front of a real server (Redis, PostgreSQL) that a test can
// cut, so it can watch Liveroom lose a dependency without stopping the shared
// server the other tests use.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  url(scheme: string, path?: string): string;
  /** Cuts every open connection and refuses new ones at once (connection reset). */
  down(): void;
  /** Open connections go silent and new ones are accepted but never answered (a server that hangs). */
  hang(): void;
  /** Accepts and forwards again. */
  up(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'up' | 'down' | 'hang' = 'up';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (mode === 'down') return void client.resetAndDestroy();
    if (mode === 'hang') {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => client.destroy());
      return;
    }
    const upstream = net.connect(target.port, target.host);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('close', () => sockets.delete(from));
      from.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      from.on('end', () => to.end());
      // While hanging, bytes go nowhere (a black hole), on open connections too.
      from.on('data', (chunk) => void (mode === 'up' && to.write(chunk)));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cut = () => {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
  };
  return {
    port,
    url: (scheme, path = '') => `${scheme}://127.0.0.1:${port}${path}`,
    down() {
      mode = 'down';
      cut();
    },
    hang() {
      mode = 'hang';
    },
    up() {
      mode = 'up';
      cut(); // connections accepted while hanging were never forwarded
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}

/** Parses host and port out of a redis:// or postgres:// URL. */
export function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || defaultPort) };
}
