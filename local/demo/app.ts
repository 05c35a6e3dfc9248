// The demo app a pod runs: answers like a healthy, erroring, slow or silent build and exposes Prometheus metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a build of the demo app behaves; `silent` answers like healthy (its scenario starves it of traffic instead). */
export type Behavior = 'healthy' | 'errors' | 'slow' | 'silent';

export const BEHAVIORS: readonly Behavior[] = ['healthy', 'errors', 'slow', 'silent'];

/** Prometheus's default buckets, in seconds: 0.25, 0.5 and 1 bracket the 500 ms threshold the demo analyses. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Every ERROR_EVERY-th request fails: a fixed pattern, so even 5 requests show exactly 20%. */
export const ERROR_EVERY = 5;

export interface AppOptions {
  readonly behavior: Behavior;
  /** Pod name, echoed in responses so a person can see who answered. */
  readonly name?: string;
  readonly image?: string;
  /** Source of randomness for latencies; Math.random by default. */
  readonly random?: () => number;
}

export interface AppServer {
  readonly url: string;
  readonly port: number;
  readonly behavior: Behavior;
  /** The Prometheus text exposition `/metrics` serves. */
  metrics(): string;
  /**
   * Stop the server. Graceful (the default) lets requests in flight finish, as a pod does on
   * SIGTERM; `force` drops them at once.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

const LATENCY_MS: Record<Behavior, readonly [number, number]> = {
  healthy: [5, 30],
  errors: [5, 30],
  // Every answer is above 500 ms, so p95 and p99 breach the demo's 500 ms threshold whatever the sample.
  slow: [600, 900],
  silent: [5, 30],
};

/** Start one app server on 127.0.0.1 and a free port. */
export async function startApp(options: AppOptions): Promise<AppServer> {
  const { behavior, name = 'app', image = '' } = options;
  const random = options.random ?? Math.random;
  const [minMs, maxMs] = LATENCY_MS[behavior];
  const counts = new Map<string, number>();
  const bucketCounts = new Array<number>(DURATION_BUCKETS_SECONDS.length).fill(0);
  let durationCount = 0;
  let durationSum = 0;
  let served = 0;
  const pending = new Set<NodeJS.Timeout>();

  const observe = (method: string, status: number, seconds: number): void => {
    const key = `${method}\u0000${status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    for (let i = 0; i < DURATION_BUCKETS_SECONDS.length; i++) {
      if (seconds <= DURATION_BUCKETS_SECONDS[i]) bucketCounts[i]++;
    }
    durationCount++;
    durationSum += seconds;
  };

  const metrics = (): string => {
    const lines = [
      '# HELP http_requests_total Count of HTTP requests by method and status code.',
      '# TYPE http_requests_total counter',
    ];
    for (const [key, value] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
      const [method, status] = key.split('\u0000');
      lines.push(`http_requests_total{method="${method}",status="${status}"} ${value}`);
    }
    lines.push(
      '# HELP http_request_duration_seconds Time to answer an HTTP request.',
      '# TYPE http_request_duration_seconds histogram',
    );
    DURATION_BUCKETS_SECONDS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{le="${le}"} ${bucketCounts[i]}`));
    lines.push(
      `http_request_duration_seconds_bucket{le="+Inf"} ${durationCount}`,
      `http_request_duration_seconds_sum ${durationSum}`,
      `http_request_duration_seconds_count ${durationCount}`,
    );
    return `${lines.join('\n')}\n`;
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    // Scrapes and probes are not traffic: they must not shift the error pattern or the histogram.
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics());
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    served++;
    const status = behavior === 'errors' && served % ERROR_EVERY === 0 ? 500 : 200;
    const delayMs = minMs + random() * (maxMs - minMs);
    // Drain the request body so keep-alive connections stay usable.
    req.resume();
    const timer = setTimeout(() => {
      pending.delete(timer);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ pod: name, image, behavior, status })}\n`);
      observe(method, status, (performance.now() - started) / 1000);
    }, delayMs);
    pending.add(timer);
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const forceClose = (): void => {
    for (const timer of pending) clearTimeout(timer);
    pending.clear();
    server.closeAllConnections();
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    behavior,
    metrics,
    close({ force = false } = {}) {
      if (force) forceClose();
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // A graceful stop has a deadline, like terminationGracePeriodSeconds.
        const deadline = setTimeout(forceClose, 2_000);
        deadline.unref();
        server.once('close', () => clearTimeout(deadline));
      });
      return closing;
    },
  };
}
