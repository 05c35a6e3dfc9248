// The demo world against the Kubernetes API emulator: pods follow Deployments, the gateway follows HTTPRoute weights, /stats reports.
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Behavior } from '../../local/demo/app';
import { startGateway } from '../../local/demo/gateway';
import type { Gateway, WorkloadStats } from '../../local/demo/gateway';
import { kubeConfigForUrl } from '../../local/demo/kube-client';
import { startLoad } from '../../local/demo/load-generator';
import { startPods } from '../../local/demo/pods';
import type { Kubelet, Pod } from '../../local/demo/pods';
import { behaviorForImages, seedObjects, startDemoWorld } from '../../local/demo/world';
import type { DemoWorld } from '../../local/demo/world';
import { startKubeEmulator } from '../../local/kube-emulator';
import type { KubeEmulator } from '../../local/kube-emulator';

const NAMESPACE = 'prod';
const STABLE_IMAGE = 'registry.example.com/web:1.4.1';
const CANARY_IMAGE = 'registry.example.com/web:1.4.2';

let emulator: KubeEmulator;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
  emulator.seed(seedObjects({ namespace: NAMESPACE, name: 'web', stableImage: STABLE_IMAGE }));
});

afterEach(async () => {
  // Last started, first closed: load before gateway before pods, and the emulator after all of them.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await emulator.close();
});

function clients() {
  const config = kubeConfigForUrl(emulator.url);
  return { apps: config.makeApiClient(AppsV1Api), core: config.makeApiClient(CoreV1Api), custom: config.makeApiClient(CustomObjectsApi) };
}

/** Wait for a condition the demo reaches asynchronously; fails with `what` if it never does. */
async function eventually<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** What a rollout does first: `web-canary` from `web` with the new image, labels the stable Service cannot select. */
async function createCanary(image: string): Promise<void> {
  const { apps, core } = clients();
  const stable = await apps.readNamespacedDeployment({ name: 'web', namespace: NAMESPACE });
  const labels = { app: 'web-canary' };
  const container = { ...stable.spec!.template.spec!.containers[0], image };
  const canary: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web-canary', namespace: NAMESPACE, labels },
    spec: {
      ...stable.spec!,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { ...stable.spec!.template.spec!, containers: [container] } },
    },
  };
  await apps.createNamespacedDeployment({ namespace: NAMESPACE, body: canary });
  await core.createNamespacedService({
    namespace: NAMESPACE,
    body: { metadata: { name: 'web-canary', namespace: NAMESPACE }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } },
  });
}

async function setWeights(primary: number, canary: number): Promise<void> {
  const { custom } = clients();
  const key = { group: 'gateway.networking.k8s.io', version: 'v1', namespace: NAMESPACE, plural: 'httproutes', name: 'web' };
  const route = (await custom.getNamespacedCustomObject(key)) as { spec: { rules: { backendRefs: object[] }[] } };
  route.spec.rules[0].backendRefs = [
    { name: 'web', port: 80, weight: primary },
    { name: 'web-canary', port: 80, weight: canary },
  ];
  await custom.replaceNamespacedCustomObject({ ...key, body: route });
}

/** Read, change, replace; retried on 409 as client-go's RetryOnConflict does, since the controller writes status meanwhile. */
async function updateDeployment(name: string, change: (deployment: V1Deployment) => void): Promise<void> {
  const { apps } = clients();
  for (let attempt = 1; ; attempt++) {
    const deployment = await apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
    change(deployment);
    try {
      await apps.replaceNamespacedDeployment({ name, namespace: NAMESPACE, body: deployment });
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== 409 || attempt === 5) throw error;
    }
  }
}

async function startKubelet(behaviors: Record<string, Behavior> = {}): Promise<Kubelet> {
  const kubelet = await startPods({ kubeUrl: emulator.url, namespace: NAMESPACE, behaviorForImage: behaviorForImages(behaviors) });
  cleanups.push(() => kubelet.close());
  return kubelet;
}

async function startTestGateway(kubelet: Kubelet, timeFactor = 1): Promise<Gateway> {
  const gateway = await startGateway({ kubeUrl: emulator.url, namespace: NAMESPACE, route: 'web', pods: kubelet.pods, timeFactor });
  cleanups.push(() => gateway.close());
  return gateway;
}

/** Send `total` requests through the gateway and count them by the backend Service that answered. */
async function sendThrough(gateway: Gateway, total: number): Promise<Record<string, number>> {
  const byBackend: Record<string, number> = {};
  const load = startLoad({ url: `${gateway.url}/`, concurrency: 8, ratePerWorker: 0, totalRequests: total });
  load.onResult(({ backend, status }) => {
    const key = backend ?? `status ${status}`;
    byBackend[key] = (byBackend[key] ?? 0) + 1;
  });
  await load.done;
  return byBackend;
}

async function fetchStats(gateway: Gateway, query: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${gateway.statsUrl}${query}`);
  return { status: response.status, body: await response.json() };
}

const podsOf = (kubelet: Kubelet, deployment: string): readonly Pod[] => kubelet.pods().filter((pod) => pod.deployment === deployment);

describe('demo pods', () => {
  it('runs one pod per available Deployment, named and labelled as Kubernetes would', async () => {
    // Act
    const kubelet = await startKubelet();
    const [pod] = await eventually('the stable pod', () => podsOf(kubelet, 'web').length === 1 && podsOf(kubelet, 'web'));

    // Assess
    expect(pod.name).toMatch(/^web-[0-9a-f]{10}-[0-9a-z]{5}$/);
    expect(pod).toMatchObject({ namespace: NAMESPACE, labels: { app: 'web' }, image: STABLE_IMAGE, behavior: 'healthy' });
    expect((await fetch(`${pod.url}/`)).status).toBe(200);
  });

  it('replaces the pod when the image changes, with the behaviour of the new image', async () => {
    // Prepare
    const kubelet = await startKubelet({ [CANARY_IMAGE]: 'errors' });
    const [before] = await eventually('the stable pod', () => podsOf(kubelet, 'web').length === 1 && podsOf(kubelet, 'web'));
    const changes: (readonly Pod[])[] = [];
    kubelet.onChange((pods) => changes.push(pods));

    // Act
    await updateDeployment('web', (deployment) => {
      deployment.spec!.template.spec!.containers[0].image = CANARY_IMAGE;
    });
    const [after] = await eventually('the new pod', () => podsOf(kubelet, 'web').find((pod) => pod.image === CANARY_IMAGE) && podsOf(kubelet, 'web'));

    // Assess
    expect(after.name).not.toBe(before.name);
    expect(after.behavior).toBe('errors');
    expect(podsOf(kubelet, 'web')).toHaveLength(1);
    expect(changes.length).toBeGreaterThan(0);
    await expect(fetch(`${before.url}/`)).rejects.toThrow();
  });

  it('keeps the old pod answering while a rollout is stuck', async () => {
    // Prepare
    const kubelet = await startKubelet();
    const [before] = await eventually('the stable pod', () => podsOf(kubelet, 'web').length === 1 && podsOf(kubelet, 'web'));
    emulator.setRolloutBehavior(NAMESPACE, 'web', 'stuck');

    // Act
    await updateDeployment('web', (deployment) => {
      deployment.spec!.template.spec!.containers[0].image = CANARY_IMAGE;
    });
    await eventually('the controller to see the new spec', () => {
      const status = emulator.get('apps/v1', 'Deployment', NAMESPACE, 'web')?.status;
      return status?.observedGeneration === 2 || undefined;
    });
    // Ten times the emulator's rollout delay: a rollout that was not stuck would be done by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await kubelet.sync();

    // Assess
    expect(podsOf(kubelet, 'web').map((pod) => pod.name)).toEqual([before.name]);
  });

  it('stops the pod when its Deployment is scaled to zero or deleted', async () => {
    // Prepare
    await createCanary(CANARY_IMAGE);
    const kubelet = await startKubelet();
    await eventually('both pods', () => kubelet.pods().length === 2 || undefined);
    const [canaryPod] = podsOf(kubelet, 'web-canary');

    // Act
    await updateDeployment('web-canary', (deployment) => {
      deployment.spec!.replicas = 0;
    });
    await eventually('the canary pod to stop', () => podsOf(kubelet, 'web-canary').length === 0 || undefined);
    await clients().apps.deleteNamespacedDeployment({ name: 'web', namespace: NAMESPACE });
    await eventually('the stable pod to stop', () => kubelet.pods().length === 0 || undefined);

    // Assess
    await expect(fetch(`${canaryPod.url}/`)).rejects.toThrow();
  });
});

describe('demo gateway', () => {
  it('follows the HTTPRoute weights: 0/100, 100/0, then 80/20', async () => {
    // Prepare
    await createCanary(CANARY_IMAGE);
    const kubelet = await startKubelet();
    await eventually('both pods', () => kubelet.pods().length === 2 || undefined);
    const gateway = await startTestGateway(kubelet);

    // Act
    await setWeights(0, 100);
    await gateway.sync();
    const allCanary = await sendThrough(gateway, 50);
    await setWeights(100, 0);
    await gateway.sync();
    const allStable = await sendThrough(gateway, 50);
    await setWeights(80, 20);
    await gateway.sync();
    const split = await sendThrough(gateway, 400);

    // Assess
    expect(allCanary).toEqual({ 'web-canary': 50 });
    expect(allStable).toEqual({ web: 50 });
    expect(split.web + split['web-canary']).toBe(400);
    // 400 draws at 20%: the standard deviation is 2 points, the tolerance 8.
    expect(split['web-canary'] / 400).toBeGreaterThan(0.12);
    expect(split['web-canary'] / 400).toBeLessThan(0.28);
    expect(gateway.weights().backends).toEqual([
      { service: 'web', weight: 80 },
      { service: 'web-canary', weight: 20 },
    ]);
    const view = await fetchStats(gateway, '/weights');
    expect(view.body).toMatchObject({ namespace: NAMESPACE, route: 'web', backends: [{ service: 'web', weight: 80 }, { service: 'web-canary', weight: 20 }] });
  });

  it('answers 503 for a backend whose Service has no pod', async () => {
    // Prepare
    await createCanary(CANARY_IMAGE);
    await updateDeployment('web-canary', (deployment) => {
      deployment.spec!.replicas = 0;
    });
    const kubelet = await startKubelet();
    await eventually('the stable pod alone', () => (kubelet.pods().length === 1 && podsOf(kubelet, 'web').length === 1) || undefined);
    const gateway = await startTestGateway(kubelet);
    await setWeights(0, 100);
    await gateway.sync();

    // Act
    const response = await fetch(`${gateway.url}/`);
    await response.text();

    // Assess
    expect(response.status).toBe(503);
    expect(gateway.totals().get('web-canary')).toEqual({ requests: 1, errors: 1 });
  });

  it('reports error rate and latency percentiles per workload on /stats', async () => {
    // Prepare
    await createCanary(CANARY_IMAGE);
    const kubelet = await startKubelet({ [CANARY_IMAGE]: 'errors' });
    await eventually('both pods', () => kubelet.pods().length === 2 || undefined);
    const gateway = await startTestGateway(kubelet);
    await setWeights(50, 50);
    await gateway.sync();
    const sent = await sendThrough(gateway, 200);

    // Act
    const canary = await fetchStats(gateway, '?namespace=prod&workload=web-canary&interval=1m');
    const stable = await fetchStats(gateway, '?namespace=prod&workload=web&interval=1m30s');

    // Assess
    const canaryStats = canary.body as WorkloadStats;
    expect(canary.status).toBe(200);
    expect(canaryStats).toMatchObject({ workload: 'web-canary', namespace: 'prod', windowSeconds: 60, requests: sent['web-canary'] });
    // The errors build fails every fifth request it answers.
    expect(canaryStats.errors).toBe(Math.floor(sent['web-canary'] / 5));
    expect(canaryStats.errorRate).toBeCloseTo((100 * canaryStats.errors) / canaryStats.requests, 2);
    expect(canaryStats.successRate! + canaryStats.errorRate!).toBeCloseTo(100, 2);
    expect(canaryStats.p50Ms!).toBeLessThanOrEqual(canaryStats.p95Ms!);
    expect(canaryStats.p95Ms!).toBeLessThanOrEqual(canaryStats.p99Ms!);
    expect(stable.body).toMatchObject({ workload: 'web', windowSeconds: 90, requests: sent.web, errors: 0, errorRate: 0, successRate: 100 });
  });

  it('reports no data, not health, for a workload without traffic', async () => {
    // Prepare
    await createCanary(CANARY_IMAGE);
    const kubelet = await startKubelet();
    await eventually('both pods', () => kubelet.pods().length === 2 || undefined);
    const gateway = await startTestGateway(kubelet);
    await sendThrough(gateway, 20);

    // Act
    const { body } = await fetchStats(gateway, '?namespace=prod&workload=web-canary&interval=30s');

    // Assess
    expect(body).toEqual({
      workload: 'web-canary',
      namespace: 'prod',
      windowSeconds: 30,
      requests: 0,
      errors: 0,
      successRate: null,
      errorRate: null,
      p50Ms: null,
      p95Ms: null,
      p99Ms: null,
    });
  });

  it('measures the slow build above 500 ms at p95 and p99', async () => {
    // Prepare
    await createCanary(CANARY_IMAGE);
    const kubelet = await startKubelet({ [CANARY_IMAGE]: 'slow' });
    await eventually('both pods', () => kubelet.pods().length === 2 || undefined);
    const gateway = await startTestGateway(kubelet);
    await setWeights(0, 100);
    await gateway.sync();
    await sendThrough(gateway, 16);

    // Act
    const { body } = await fetchStats(gateway, '?namespace=prod&workload=web-canary&interval=1m');

    // Assess
    expect(body.requests).toBe(16);
    expect(body.p95Ms).toBeGreaterThan(500);
    expect(body.p99Ms).toBeGreaterThan(500);
  });

  it('counts only the last interval of demo time', async () => {
    // Prepare
    const kubelet = await startKubelet();
    await eventually('the stable pod', () => podsOf(kubelet, 'web').length === 1 || undefined);
    // Demo time runs 1000 times faster: a 1m interval is the last 60 real milliseconds.
    const gateway = await startTestGateway(kubelet, 0.001);
    await sendThrough(gateway, 20);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Act
    const old = await fetchStats(gateway, '?workload=web&interval=1m');
    const longer = await fetchStats(gateway, '?workload=web&interval=2h');

    // Assess
    expect(old.body.requests).toBe(0);
    expect(longer.body.requests).toBe(20);
  });

  it('rejects a stats query without a workload or with an interval that is not a duration', async () => {
    // Prepare
    const kubelet = await startKubelet();
    const gateway = await startTestGateway(kubelet);

    // Act
    const noWorkload = await fetchStats(gateway, '?interval=1m');
    const badInterval = await fetchStats(gateway, '?workload=web&interval=soon');

    // Assess
    expect(noWorkload.status).toBe(400);
    expect(badInterval.status).toBe(400);
    expect(badInterval.body.error).toContain('soon');
  });
});

describe('demo world', () => {
  async function startWorld(silent: boolean, behaviors: Record<string, Behavior> = {}): Promise<DemoWorld> {
    const world = await startDemoWorld({
      kubeUrl: emulator.url,
      namespace: NAMESPACE,
      name: 'web',
      stableImage: STABLE_IMAGE,
      scenarioImage: CANARY_IMAGE,
      behaviorForImage: behaviorForImages(behaviors),
      timeFactor: 0.1,
      silent,
      load: { concurrency: 2, ratePerWorker: 20 },
    });
    cleanups.push(() => world.close());
    return world;
  }

  it('sends load through the route to whatever the weights say', async () => {
    // Prepare
    const world = await startWorld(false, { [CANARY_IMAGE]: 'errors' });
    await createCanary(CANARY_IMAGE);
    await eventually('the canary pod', () => podsOf(world.pods, 'web-canary').length === 1 || undefined);

    // Act
    await setWeights(50, 50);
    const canary = await eventually('canary traffic with errors', async () => {
      const body = (await (await fetch(`${world.statsUrl}?namespace=prod&workload=web-canary&interval=1m`)).json()) as WorkloadStats;
      return body.requests >= 20 ? body : undefined;
    });

    // Assess
    expect(canary.errorRate).toBeGreaterThan(1);
    expect(world.lostRequests()).toBe(0);
    expect(world.load.counts().sent).toBeGreaterThan(0);
  });

  it('loses no request while the stable Deployment rolls out a new image under load', async () => {
    // Prepare
    const world = await startWorld(false);
    const [before] = podsOf(world.pods, 'web');
    const sentBefore = world.load.counts().sent;

    // Act
    await updateDeployment('web', (deployment) => {
      deployment.spec!.template.spec!.containers[0].image = CANARY_IMAGE;
    });
    await eventually('the new stable pod', () => podsOf(world.pods, 'web').find((pod) => pod.image === CANARY_IMAGE));
    const sentAtSwap = world.load.counts().sent;
    await eventually('traffic after the swap', () => world.load.counts().sent >= sentAtSwap + 20 || undefined);

    // Assess
    expect(world.load.counts().sent).toBeGreaterThan(sentBefore);
    expect(podsOf(world.pods, 'web').map((pod) => pod.name)).not.toContain(before.name);
    expect(world.load.counts().failed).toBe(0);
    expect(world.lostRequests()).toBe(0);
  });

  it('starves the canary of traffic in the silent scenario, whatever its weight', async () => {
    // Prepare
    const world = await startWorld(true);
    await createCanary(CANARY_IMAGE);
    await eventually('the canary pod', () => podsOf(world.pods, 'web-canary').length === 1 || undefined);

    // Act
    await setWeights(50, 50);
    await world.gateway.sync();
    const stable = await eventually('stable traffic', async () => {
      const body = (await (await fetch(`${world.statsUrl}?namespace=prod&workload=web&interval=1m`)).json()) as WorkloadStats;
      return body.requests >= 20 ? body : undefined;
    });
    const canary = (await (await fetch(`${world.statsUrl}?namespace=prod&workload=web-canary&interval=1m`)).json()) as WorkloadStats;

    // Assess
    expect(stable.errorRate).toBe(0);
    expect(canary.requests).toBe(0);
    expect(canary.errorRate).toBeNull();
    expect(world.gateway.totals().get('web-canary')).toBeUndefined();
  });

  it('fails to start, naming the Deployment, when the emulator was not seeded', async () => {
    // Prepare
    const { apps } = clients();
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: NAMESPACE });

    // Act
    const starting = startDemoWorld({
      kubeUrl: emulator.url,
      namespace: NAMESPACE,
      name: 'web',
      stableImage: STABLE_IMAGE,
      behaviorForImage: () => 'healthy',
      timeFactor: 0.1,
      silent: false,
      readyTimeoutMs: 300,
    });

    // Assess
    await expect(starting).rejects.toThrow('no pod for Deployment prod/web');
  });

  it('seeds the stable Deployment, Service and HTTPRoute a rollout starts from', () => {
    // Act
    const [deployment, service, route] = seedObjects({ namespace: NAMESPACE, name: 'web', stableImage: STABLE_IMAGE });

    // Assess
    expect(deployment).toMatchObject({
      kind: 'Deployment',
      spec: {
        replicas: 2,
        progressDeadlineSeconds: 60,
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: STABLE_IMAGE, ports: [{ containerPort: 8080 }] }] } },
      },
    });
    expect(service).toMatchObject({ kind: 'Service', spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
    expect(route).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      spec: { parentRefs: [{ name: 'public', namespace: 'gateway-system' }], hostnames: ['web.example.com'], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
    });
  });
});
