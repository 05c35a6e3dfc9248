// A metrics endpoint for tests that only need one to answer: Prometheus's vector(1) on any path, HTTP 500 under /fail.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PrometheusStub {
  readonly url: string;
  readonly port: number;
  /** Requests received, by path. */
  readonly calls: Record<string, number>;
  close(): Promise<void>;
}

const VECTOR_ONE = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '1'] }] } });

/** `/fail…` answers 500, `/notjson…` answers text; every other path answers vector(1), so checkOnline passes for prometheus and web. */
export async function startPrometheusStub(): Promise<PrometheusStub> {
  const calls: Record<string, number> = {};
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    calls[path] = (calls[path] ?? 0) + 1;
    if (path.startsWith('/fail')) res.writeHead(500, { 'content-type': 'text/plain' }).end('backend exploded');
    else if (path.startsWith('/notjson')) res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(VECTOR_ONE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
