// A hey-like load generator: a few rate-limited workers sending requests, bounded in time or count, counting answers.
import http from 'node:http';
import { parseDurationSeconds } from '../../lambdas/core/duration';

export interface LoadOptions {
  readonly url: string;
  /** Workers sending one request at a time each (hey -c). */
  readonly concurrency: number;
  /** Requests per second per worker (hey -q); 0 means as fast as answers come. */
  readonly ratePerWorker: number;
  /** Stop after this long (hey -z); unbounded in time when omitted (stop() or totalRequests end it). */
  readonly durationMs?: number;
  /** Stop after this many requests in all (hey -n); ignored when durationMs is set, as hey does. */
  readonly totalRequests?: number;
  /** Per-request timeout (hey -t). @default 10_000 */
  readonly timeoutMs?: number;
  /** @default 'GET' */
  readonly method?: string;
  /** Extra request headers; `host` addresses a Service by name through the demo gateway (hey -host). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface LoadCounts {
  /** Requests started. */
  readonly sent: number;
  /** Answers by HTTP status code. */
  readonly byStatus: Readonly<Record<number, number>>;
  /** Connection errors, timeouts and 5xx answers. */
  readonly failed: number;
  /** Connection errors and timeouts alone (no HTTP answer at all). */
  readonly connectionErrors: number;
}

export interface RequestResult {
  /** HTTP status, or undefined when the request got no answer. */
  readonly status?: number;
  /** Backend Service the demo gateway reports (x-fledge-backend), when there is one. */
  readonly backend?: string;
  readonly error?: string;
}

export interface Load {
  counts(): LoadCounts;
  /** Observe every finished request. */
  onResult(listener: (result: RequestResult) => void): () => void;
  /** Resolves with the final counts when every worker has stopped. */
  readonly done: Promise<LoadCounts>;
  /** Stop sending; requests in flight finish (bounded by the timeout). Resolves with the final counts. */
  stop(): Promise<LoadCounts>;
}

/** Start the workers; the load ends by itself at durationMs or totalRequests, or on stop(). */
export function startLoad(options: LoadOptions): Load {
  validate(options);
  const { url, concurrency, ratePerWorker, durationMs, totalRequests } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const method = (options.method ?? 'GET').toUpperCase();
  const periodMs = ratePerWorker > 0 ? 1000 / ratePerWorker : 0;
  const limit = durationMs === undefined ? totalRequests : undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const listeners = new Set<(result: RequestResult) => void>();
  const byStatus: Record<number, number> = {};
  let sent = 0;
  let failed = 0;
  let connectionErrors = 0;
  let stopped = false;
  const wakers = new Set<() => void>();

  const counts = (): LoadCounts => ({ sent, byStatus: { ...byStatus }, failed, connectionErrors });
  const halt = (): void => {
    stopped = true;
    for (const wake of wakers) wake();
  };

  // A sleep that stop() cuts short, and that alone never holds the process open.
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      wakers.add(wake);
    });

  const send = (): Promise<RequestResult> =>
    new Promise((resolve) => {
      const request = http.request(url, { method, headers: options.headers, agent, timeout: timeoutMs }, (response) => {
        const backend = response.headers['x-fledge-backend'];
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode, backend: typeof backend === 'string' ? backend : undefined }));
        response.on('error', (error) => resolve({ error: error.message }));
      });
      request.on('timeout', () => request.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      request.on('error', (error) => resolve({ error: error.message }));
      request.end(options.body);
    });

  const worker = async (): Promise<void> => {
    while (!stopped && (limit === undefined || sent < limit)) {
      const startedAt = performance.now();
      sent++;
      const result = await send();
      if (result.status === undefined) {
        connectionErrors++;
        failed++;
      } else {
        byStatus[result.status] = (byStatus[result.status] ?? 0) + 1;
        if (result.status >= 500) failed++;
      }
      for (const listener of listeners) listener(result);
      // Like hey's per-worker ticker: a slow answer is not made up for with a burst.
      const waitMs = periodMs - (performance.now() - startedAt);
      if (!stopped && waitMs > 0) await sleep(waitMs);
    }
  };

  let deadline: NodeJS.Timeout | undefined;
  if (durationMs !== undefined) {
    deadline = setTimeout(halt, durationMs);
    deadline.unref();
  }
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
    clearTimeout(deadline);
    agent.destroy();
    return counts();
  });

  return {
    counts,
    onResult(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    done,
    stop() {
      halt();
      return done;
    },
  };
}

function validate(options: LoadOptions): void {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  }
  if (!(options.ratePerWorker >= 0)) throw new RangeError(`ratePerWorker must be >= 0, got ${options.ratePerWorker}`);
  if (options.durationMs !== undefined && !(options.durationMs > 0)) {
    throw new RangeError(`durationMs must be > 0, got ${options.durationMs}`);
  }
  new URL(options.url);
}

/**
 * Read a hey command line (`hey -z 1m -q 10 -c 2 http://web-canary.prod:80/`) into load options,
 * with hey's defaults: -c 50, -n 200, -t 20 (seconds), no rate limit, GET.
 */
export function parseHeyCommand(command: string): LoadOptions {
  const args = splitArgs(command);
  if (args[0] === 'hey' || args[0]?.endsWith('/hey')) args.shift();
  let concurrency = 50;
  let ratePerWorker = 0;
  let totalRequests = 200;
  let durationMs: number | undefined;
  let timeoutMs = 20_000;
  let method = 'GET';
  let body: string | undefined;
  const headers: Record<string, string> = {};
  let url: string | undefined;

  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('-')) {
      if (url !== undefined) throw new Error(`hey command has two URLs: ${url} and ${arg}`);
      url = arg;
      continue;
    }
    const flag = arg.replace(/^--?/, '');
    if (flag === 'disable-keepalive' || flag === 'disable-compression' || flag === 'disable-redirects' || flag === 'h2') continue;
    const value = args[++i];
    if (value === undefined) throw new Error(`hey flag ${arg} needs a value`);
    switch (flag) {
      case 'c':
        concurrency = positiveNumber(arg, value);
        break;
      case 'q':
        ratePerWorker = positiveNumber(arg, value);
        break;
      case 'n':
        totalRequests = positiveNumber(arg, value);
        break;
      case 'z': {
        const seconds = parseDurationSeconds(value);
        if (seconds === undefined || seconds <= 0) throw new Error(`hey flag -z needs a duration like 30s or 1m, got ${value}`);
        durationMs = seconds * 1000;
        break;
      }
      case 't':
        timeoutMs = positiveNumber(arg, value) * 1000;
        break;
      case 'm':
        method = value.toUpperCase();
        break;
      case 'H': {
        const colon = value.indexOf(':');
        if (colon < 1) throw new Error(`hey flag -H needs "Name: value", got ${value}`);
        headers[value.slice(0, colon).trim().toLowerCase()] = value.slice(colon + 1).trim();
        break;
      }
      case 'host':
        headers.host = value;
        break;
      case 'T':
        headers['content-type'] = value;
        break;
      case 'A':
        headers.accept = value;
        break;
      case 'd':
        body = value;
        break;
      default:
        throw new Error(`hey flag ${arg} is not supported`);
    }
  }
  if (url === undefined) throw new Error(`hey command has no URL: ${command}`);
  return {
    url,
    concurrency,
    ratePerWorker,
    ...(durationMs === undefined ? { totalRequests } : { durationMs }),
    timeoutMs,
    method,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(body === undefined ? {} : { body }),
  };
}

function positiveNumber(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`hey flag ${flag} needs a positive number, got ${value}`);
  return number;
}

/** Split a command line on spaces, keeping single- or double-quoted words together. */
function splitArgs(command: string): string[] {
  const args: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of command.matchAll(pattern)) {
    args.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? match[3]));
  }
  return args;
}
