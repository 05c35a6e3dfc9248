// A real HTTP metrics endpoint for tests: answers each metric's JSON from a script the test sets.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A value per call (the last repeats); null is "no data"; 'error' answers HTTP 500. */
export type Script = Record<string, ReadonlyArray<number | null | 'error'>>;

export interface MetricServer {
  readonly url: string;
  /** Calls received per metric. */
  readonly calls: Record<string, number>;
  close(): Promise<void>;
}

/** GET /metric/<name> → {"value": …} following the script. */
export async function startMetricServer(script: Script): Promise<MetricServer> {
  const calls: Record<string, number> = {};
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/metric\//, ''));
    const values = script[name];
    if (!values) {
      res.writeHead(404).end();
      return;
    }
    const n = calls[name] ?? 0;
    calls[name] = n + 1;
    const value = values[Math.min(n, values.length - 1)];
    if (value === 'error') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('backend exploded');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
