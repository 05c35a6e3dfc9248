// A metrics backend for the fault suite that can answer, hang (accept and never answer) or go away (connection refused) mid-rollout.
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `answer`: GET /metric/<name> → {"value": …}; `hang`: accept every request and never answer. */
export type BackendMode = 'answer' | 'hang';

export interface MetricsBackend {
  /** Base URL, for a `web` MetricTemplate's `address`. */
  readonly url: string;
  /** Metric queries received, answered or not. */
  readonly calls: number;
  /** Answer from now on, or hang from now on. */
  setMode(mode: BackendMode): void;
  /** Stop listening and drop every connection: from now on the port refuses connections. */
  refuse(): Promise<void>;
  close(): Promise<void>;
}

/** Values per call (the last repeats); null answers "no data". */
export async function startMetricsBackend(values: ReadonlyArray<number | null>): Promise<MetricsBackend> {
  let mode: BackendMode = 'answer';
  let calls = 0;
  let listening = true;
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!path.startsWith('/metric/')) {
      // checkOnline probes the base address: any answer below 500 proves the backend is up.
      res.writeHead(404).end();
      return;
    }
    const n = calls++;
    if (mode === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    const value = values[Math.min(n, values.length - 1)];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get calls() {
      return calls;
    },
    setMode(next) {
      mode = next;
    },
    refuse: stop,
    close: stop,
  };
}
