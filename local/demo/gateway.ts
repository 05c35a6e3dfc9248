// The demo's data plane: a Gateway API gateway that splits traffic by HTTPRoute weights and reports what it saw.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { parseDurationSeconds } from '../../lambdas/core/duration';
import { isNotFound, kubeConfigForUrl } from './kube-client';
import type { Pod } from './pods';
import { startPoller } from './poller';

export interface GatewayOptions {
  readonly kubeUrl: string;
  /** Namespace of the HTTPRoute and of the Services it references. */
  readonly namespace: string;
  /** HTTPRoute name. */
  readonly route: string;
  /** The running pods (the kubelet's view); read on every request. */
  readonly pods: () => readonly Pod[];
  /**
   * Real seconds per demo second: with 0.1, a `1m` stats interval covers the last 6 real
   * seconds, matching a rollout whose waits run ten times faster.
   * @default 1
   */
  readonly timeFactor?: number;
  /** @default 100 */
  readonly pollMs?: number;
  /** Requests kept for /stats; the oldest are dropped first. @default 50_000 */
  readonly historySize?: number;
  /** Upstream timeout; a pod slower than this gets a 504. @default 15_000 */
  readonly upstreamTimeoutMs?: number;
  /** Source of randomness for the weighted pick; Math.random by default. */
  readonly random?: () => number;
}

/** One request as the gateway saw it. */
export interface RequestRecord {
  /** Completion time, real epoch milliseconds. */
  readonly timeMs: number;
  /** How it was addressed: through the HTTPRoute, or straight to a Service by its cluster DNS name. */
  readonly via: 'route' | 'service';
  /** Backend Service, when one was chosen. */
  readonly service?: string;
  readonly pod?: string;
  /** Deployment of the pod that answered, when a pod was reached. */
  readonly deployment?: string;
  readonly status: number;
  readonly durationMs: number;
}

export interface BackendWeight {
  readonly service: string;
  readonly weight: number;
}

export interface AppliedWeights {
  readonly namespace: string;
  readonly route: string;
  /** Backends of the route's first rule as last applied; empty before the route was read. */
  readonly backends: readonly BackendWeight[];
  /** When the gateway last applied a change (ISO time), or null before the route was read. */
  readonly appliedAt: string | null;
}

/** The JSON `/stats` answers for Fledge's `web` metric provider; null means no data. */
export interface WorkloadStats {
  readonly workload: string;
  readonly namespace: string;
  /** The interval asked for, in demo seconds. */
  readonly windowSeconds: number;
  readonly requests: number;
  readonly errors: number;
  /** Percent of requests that were not 5xx. */
  readonly successRate: number | null;
  /** Percent of requests that were 5xx. */
  readonly errorRate: number | null;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}

export interface ServiceTotals {
  readonly requests: number;
  /** 5xx answers, including the gateway's own 502/503/504 for that Service. */
  readonly errors: number;
}

export interface Gateway {
  /** Where clients send traffic. Host `<service>.<namespace>[.svc[.cluster.local]]` goes straight to that Service. */
  readonly url: string;
  /** Base of the stats API: `${statsUrl}?namespace=…&workload=…&interval=1m` and `${statsUrl}/weights`. */
  readonly statsUrl: string;
  stats(workload: string, windowSeconds: number, namespace?: string): WorkloadStats;
  weights(): AppliedWeights;
  /** Totals since start by backend Service (not bounded by the history). */
  totals(): ReadonlyMap<string, ServiceTotals>;
  /** Poll the API now and apply what it says. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

interface BackendRef {
  readonly name: string;
  readonly weight: number;
}

interface ServiceView {
  readonly name: string;
  readonly selector: Readonly<Record<string, string>>;
}

// Connection-level headers belong to one hop and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Start the gateway and its stats API, each on 127.0.0.1 and a free port. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { namespace, route } = options;
  const timeFactor = options.timeFactor ?? 1;
  const random = options.random ?? Math.random;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 15_000;
  const kubeConfig = kubeConfigForUrl(options.kubeUrl);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const history = new RequestHistory(options.historySize ?? 50_000);
  const totals = new Map<string, { requests: number; errors: number }>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  // What the gateway has applied; kept when the API server is away, as real gateways keep their last config.
  let backends: BackendRef[] | undefined;
  let services = new Map<string, ServiceView>();
  let applied: AppliedWeights = { namespace, route, backends: [], appliedAt: null };

  const refresh = async (): Promise<void> => {
    const [routeObject, serviceList] = await Promise.all([
      custom
        .getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes', name: route })
        .catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        }),
      core.listNamespacedService({ namespace }),
    ]);
    services = new Map(
      serviceList.items.map((service) => {
        const name = service.metadata?.name ?? '';
        return [name, { name, selector: service.spec?.selector ?? {} }];
      }),
    );
    backends = routeObject === undefined ? undefined : backendRefsOf(routeObject, namespace);
    const next = (backends ?? []).map(({ name, weight }) => ({ service: name, weight }));
    if (JSON.stringify(next) !== JSON.stringify(applied.backends)) {
      applied = { namespace, route, backends: next, appliedAt: new Date().toISOString() };
    }
  };

  const record = (entry: RequestRecord): void => {
    history.push(entry);
    if (entry.service === undefined) return;
    const total = totals.get(entry.service) ?? { requests: 0, errors: 0 };
    total.requests++;
    if (entry.status >= 500) total.errors++;
    totals.set(entry.service, total);
  };

  const podsFor = (service: ServiceView): Pod[] => {
    const selector = Object.entries(service.selector);
    // A Service without a selector gets no endpoints from Kubernetes either.
    if (selector.length === 0) return [];
    return options.pods().filter((pod) => pod.namespace === namespace && selector.every(([key, value]) => pod.labels[key] === value));
  };

  const pickBackend = (refs: readonly BackendRef[]): BackendRef | undefined => {
    const live = refs.filter((ref) => ref.weight > 0);
    const total = live.reduce((sum, ref) => sum + ref.weight, 0);
    let point = random() * total;
    for (const ref of live) {
      point -= ref.weight;
      if (point < 0) return ref;
    }
    return live.at(-1);
  };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const targetService = serviceForHost(req.headers.host, namespace);
    const via: RequestRecord['via'] = targetService === undefined ? 'route' : 'service';
    const finish = (status: number, fields: Partial<RequestRecord> = {}): void => {
      record({ timeMs: Date.now(), via, status, durationMs: performance.now() - started, ...fields });
    };
    const fail = (status: number, message: string, fields: Partial<RequestRecord> = {}): void => {
      req.resume();
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(`${message}\n`);
      } else {
        res.destroy();
      }
      finish(status, fields);
    };

    let serviceName: string;
    if (targetService !== undefined) {
      serviceName = targetService;
    } else {
      if (backends === undefined) return fail(404, `no HTTPRoute ${namespace}/${route}`);
      const ref = pickBackend(backends);
      // Gateway API: a rule whose backends all weigh 0 (or are missing) answers 500.
      if (ref === undefined) return fail(500, 'no backend with weight > 0');
      serviceName = ref.name;
    }
    const service = services.get(serviceName);
    if (service === undefined) return fail(500, `Service ${namespace}/${serviceName} not found`, { service: serviceName });
    const candidates = podsFor(service);
    if (candidates.length === 0) return fail(503, `no ready endpoints for Service ${namespace}/${serviceName}`, { service: serviceName });
    const pod = candidates[Math.floor(random() * candidates.length)];
    const target = { service: serviceName, pod: pod.name, deployment: pod.deployment };

    const headers: http.OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(key)) headers[key] = value;
    const upstream = http.request(`${pod.url}${req.url ?? '/'}`, { method: req.method, headers, agent, timeout: upstreamTimeoutMs });
    let done = false;
    upstream.on('response', (answer) => {
      const status = answer.statusCode ?? 502;
      const out: http.OutgoingHttpHeaders = { 'x-fledge-backend': serviceName, 'x-fledge-pod': pod.name };
      for (const [key, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(key)) out[key] = value;
      res.writeHead(status, out);
      answer.pipe(res);
      answer.on('end', () => {
        if (done) return;
        done = true;
        finish(status, target);
      });
      // A pod that dies mid-answer: the client sees a broken response, the record a 502.
      answer.on('error', () => {
        if (done) return;
        done = true;
        res.destroy();
        finish(502, target);
      });
    });
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (error) => {
      if (done) return;
      done = true;
      fail(error.message === 'upstream timeout' ? 504 : 502, `upstream ${pod.name}: ${error.message}`, target);
    });
    // A client that gives up (load timeout) frees the upstream; nginx logs these as 499.
    res.on('close', () => {
      if (done || res.writableFinished) return;
      done = true;
      upstream.destroy();
      finish(499, target);
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5_000;

  const statsServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stats');
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (url.pathname === '/stats/weights') return reply(200, applied);
    if (url.pathname !== '/stats') return reply(404, { error: `no such path ${url.pathname}: try /stats or /stats/weights` });
    const workload = url.searchParams.get('workload');
    if (!workload) return reply(400, { error: 'query parameter workload is required' });
    const intervalText = url.searchParams.get('interval') ?? '1m';
    const windowSeconds = parseDurationSeconds(intervalText);
    if (windowSeconds === undefined || windowSeconds <= 0) {
      return reply(400, { error: `interval ${JSON.stringify(intervalText)} is not a duration like 30s, 1m, 1m30s or 2h` });
    }
    reply(200, stats(workload, windowSeconds, url.searchParams.get('namespace') ?? namespace));
  });

  const stats = (workload: string, windowSeconds: number, ns = namespace): WorkloadStats => {
    // Only requests a pod answered are the workload's; the gateway's own 503s have no pod to blame.
    const since = Date.now() - windowSeconds * 1000 * timeFactor;
    const durations: number[] = [];
    let errors = 0;
    if (ns === namespace) {
      history.forEachSince(since, (entry) => {
        if (entry.deployment !== workload) return;
        durations.push(entry.durationMs);
        if (entry.status >= 500) errors++;
      });
    }
    return summarize(workload, ns, windowSeconds, durations, errors);
  };

  const poller = startPoller(refresh, options.pollMs ?? 100);
  await poller.tick();
  await Promise.all([listen(server), listen(statsServer)]);

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    statsUrl: `http://127.0.0.1:${(statsServer.address() as AddressInfo).port}/stats`,
    stats,
    weights: () => applied,
    totals: () => new Map([...totals].map(([service, total]) => [service, { ...total }])),
    sync: poller.tick,
    async close() {
      await poller.stop();
      const closed = Promise.all([server, statsServer].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      server.closeAllConnections();
      statsServer.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

/** The first rule's Service backends with their weights (Gateway API's default weight is 1). */
function backendRefsOf(routeObject: unknown, namespace: string): BackendRef[] {
  const rules = (routeObject as { spec?: { rules?: { backendRefs?: unknown[] }[] } }).spec?.rules ?? [];
  const refs = (rules[0]?.backendRefs ?? []) as { name?: string; weight?: number; kind?: string; group?: string; namespace?: string }[];
  return refs
    .filter((ref) => typeof ref.name === 'string' && (ref.kind ?? 'Service') === 'Service' && (ref.namespace ?? namespace) === namespace)
    .map((ref) => ({ name: ref.name as string, weight: typeof ref.weight === 'number' ? ref.weight : 1 }));
}

/** `web.prod`, `web.prod.svc`, `web.prod.svc.cluster.local` (any port) name Service `web` in `prod`. */
export function serviceForHost(host: string | undefined, namespace: string): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.svc(\.cluster\.local)?)?$/.exec(name);
  return match && match[3] === namespace ? match[1] : undefined;
}

function summarize(workload: string, namespace: string, windowSeconds: number, durations: number[], errors: number): WorkloadStats {
  const requests = durations.length;
  // No traffic is not health: every rate and latency is null, so the analysis sees "no data".
  if (requests === 0) {
    return { workload, namespace, windowSeconds, requests, errors, successRate: null, errorRate: null, p50Ms: null, p95Ms: null, p99Ms: null };
  }
  durations.sort((a, b) => a - b);
  const errorRate = (errors / requests) * 100;
  return {
    workload,
    namespace,
    windowSeconds,
    requests,
    errors,
    successRate: round(100 - errorRate),
    errorRate: round(errorRate),
    p50Ms: round(nearestRank(durations, 0.5)),
    p95Ms: round(nearestRank(durations, 0.95)),
    p99Ms: round(nearestRank(durations, 0.99)),
  };
}

/** Nearest-rank percentile of sorted values: always a duration that was really observed. */
function nearestRank(sorted: readonly number[], quantile: number): number {
  return sorted[Math.max(0, Math.ceil(quantile * sorted.length) - 1)];
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

function listen(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A fixed-size ring of request records, oldest overwritten first; records arrive in completion order. */
class RequestHistory {
  private readonly entries: (RequestRecord | undefined)[];
  private next = 0;

  constructor(private readonly capacity: number) {
    this.entries = new Array(capacity);
  }

  push(entry: RequestRecord): void {
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Visit records completed at or after `sinceMs`, newest first. */
  forEachSince(sinceMs: number, visit: (entry: RequestRecord) => void): void {
    for (let i = 1; i <= this.capacity; i++) {
      const entry = this.entries[(this.next - i + this.capacity) % this.capacity];
      if (entry === undefined || entry.timeMs < sinceMs) return;
      visit(entry);
    }
  }
}
