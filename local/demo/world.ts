// The world a demo rollout acts on: the app's pods, the gateway that splits traffic, and steady client load.
import type { Behavior } from './app';
import { startGateway } from './gateway';
import type { Gateway } from './gateway';
import { startLoad } from './load-generator';
import type { Load } from './load-generator';
import { startPods } from './pods';
import type { Kubelet, Pod } from './pods';

export interface DemoWorldOptions {
  /** Base URL of the Kubernetes API emulator, already seeded (see seedObjects). */
  readonly kubeUrl: string;
  readonly namespace: string;
  /** Stable Deployment, its Service and its HTTPRoute share this name. */
  readonly name: string;
  readonly stableImage: string;
  /** The image the scenario pushes; informational here, behaviorForImage decides what it does. */
  readonly scenarioImage?: string;
  readonly behaviorForImage: (image: string) => Behavior;
  /** Real seconds per demo second, for the stats windows (0.1: a 1m window is 6 real seconds). */
  readonly timeFactor: number;
  /**
   * Clients call the stable Service by its cluster name instead of going through the gateway's
   * route, so the canary gets no traffic whatever its weight.
   */
  readonly silent: boolean;
  /** @default { concurrency: 4, ratePerWorker: 20 } */
  readonly load?: { readonly concurrency: number; readonly ratePerWorker: number };
  /** How long to wait for the stable Deployment's pod before failing. @default 10_000 */
  readonly readyTimeoutMs?: number;
}

export interface DemoWorld {
  /** Where the load goes (through the HTTPRoute unless silent). */
  readonly gatewayUrl: string;
  /** Base of the stats API for Fledge's `web` metric provider: `${statsUrl}?namespace=…&workload=…&interval=1m`. */
  readonly statsUrl: string;
  readonly pods: Kubelet;
  readonly gateway: Gateway;
  readonly load: Load;
  /**
   * Requests users lost on the stable side: 5xx (the gateway's own 502/503/504 included) from
   * or routed to the stable Service, plus load requests that got no answer at all (the
   * gateway cannot say where those were going, so they count against stable).
   */
  lostRequests(): number;
  close(): Promise<void>;
}

export const DEFAULT_LOAD = { concurrency: 4, ratePerWorker: 20 } as const;

/** Start pods, gateway and load against an emulator the caller has seeded; seeds nothing itself. */
export async function startDemoWorld(options: DemoWorldOptions): Promise<DemoWorld> {
  const { kubeUrl, namespace, name, behaviorForImage, timeFactor } = options;
  if (!(timeFactor > 0)) throw new RangeError(`timeFactor must be > 0, got ${timeFactor}`);
  const pods = await startPods({ kubeUrl, namespace, behaviorForImage });
  let gateway: Gateway | undefined;
  try {
    gateway = await startGateway({ kubeUrl, namespace, route: name, pods: pods.pods, timeFactor });
    // Load before the stable pod runs would only measure the demo's own start-up as lost requests.
    await waitForPod(pods, name, options.readyTimeoutMs ?? 10_000, namespace);
  } catch (error) {
    await gateway?.close();
    await pods.close();
    throw error;
  }
  const { concurrency, ratePerWorker } = options.load ?? DEFAULT_LOAD;
  const load = startLoad({
    url: `${gateway.url}/`,
    concurrency,
    ratePerWorker,
    // The cluster DNS name sends requests straight to the Service, as in-cluster clients do.
    ...(options.silent ? { headers: { host: `${name}.${namespace}.svc.cluster.local` } } : {}),
  });
  const started = gateway;

  return {
    gatewayUrl: started.url,
    statsUrl: started.statsUrl,
    pods,
    gateway: started,
    load,
    lostRequests: () => (started.totals().get(name)?.errors ?? 0) + load.counts().connectionErrors,
    async close() {
      await load.stop();
      await started.close();
      await pods.close();
    },
  };
}

/** An image-to-behaviour table, with a fallback for images it does not list. */
export function behaviorForImages(table: Readonly<Record<string, Behavior>>, fallback: Behavior = 'healthy'): (image: string) => Behavior {
  return (image) => table[image] ?? fallback;
}

export interface SeedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels?: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

export interface SeedOptions {
  readonly namespace: string;
  readonly name: string;
  readonly stableImage: string;
  /** @default 2 */
  readonly replicas?: number;
}

/** The stable Deployment, its Service and the HTTPRoute a rollout starts from, for the lead to seed. */
export function seedObjects({ namespace, name, stableImage, replicas = 2 }: SeedOptions): SeedObject[] {
  const labels = { app: name };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas,
        progressDeadlineSeconds: 60,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name, image: stableImage, ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace },
      spec: {
        parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateway-system' }],
        hostnames: [`${name}.example.com`],
        rules: [{ backendRefs: [{ name, port: 80 }] }],
      },
    },
  ];
}

function waitForPod(pods: Kubelet, deployment: string, timeoutMs: number, namespace: string): Promise<void> {
  const has = (list: readonly Pod[]): boolean => list.some((pod) => pod.deployment === deployment);
  if (has(pods.pods())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no pod for Deployment ${namespace}/${deployment} after ${timeoutMs} ms: seed the emulator with seedObjects() and let it report the Deployment available`));
    }, timeoutMs);
    const unsubscribe = pods.onChange((list) => {
      if (!has(list)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}
