// NginxRouter against the Kubernetes API emulator, spoken to over HTTP by the real client.
import { NetworkingV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesRequestError, KubernetesTransientError, TargetNotFoundError, TrafficDriftError } from '../../lambdas/core/errors';
import { kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { NginxRouter } from '../../lambdas/adapters/routers/nginx-router';
import type { RolloutTarget } from '../../lambdas/ports/target';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { WEB_TARGET } from '../helpers/target';

const target: RolloutTarget = WEB_TARGET;

const NETWORKING = 'networking.k8s.io/v1';
const CANARY = 'nginx.ingress.kubernetes.io/canary';
const WEIGHT = 'nginx.ingress.kubernetes.io/canary-weight';

const path = (value: string, service: string, port: object = { number: 80 }) => ({
  path: value,
  pathType: 'Prefix',
  backend: { service: { name: service, port } },
});

/** The user's Ingress: one host with a path to the stable Service and one to another app, and TLS. */
function apexIngress(paths: object[] = [path('/', 'web'), path('/admin', 'admin', { number: 8080 })]) {
  return {
    apiVersion: NETWORKING,
    kind: 'Ingress',
    metadata: {
      name: 'web',
      namespace: 'prod',
      labels: { app: 'web' },
      annotations: {
        'nginx.ingress.kubernetes.io/affinity': 'cookie',
        'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"Ingress"}',
      },
    },
    spec: {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }],
      rules: [{ host: 'web.example.com', http: { paths } }],
    },
  };
}

const apex = (emulator: KubeEmulator) => emulator.get(NETWORKING, 'Ingress', 'prod', 'web');
const canary = (emulator: KubeEmulator) => emulator.get(NETWORKING, 'Ingress', 'prod', 'web-canary');
const writes = (emulator: KubeEmulator) => emulator.requests.filter((r) => !['GET', 'HEAD'].includes(r.method));

describe('NginxRouter', () => {
  let emulator: KubeEmulator;
  let router: NginxRouter;

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    router = new NginxRouter(kubeConfigFor({ server: emulator.url, token: 't' }), { backoffMs: 1 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('reconcile creates the canary Ingress at weight 0: the stable paths sent to the canary Service, the apex untouched', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    const before = apex(emulator);

    // Act
    await router.reconcile(target);

    // Assess
    const created = canary(emulator);
    expect(created.metadata.labels).toEqual({ app: 'web', 'fledge.dev/role': 'canary' });
    expect(created.metadata.annotations).toEqual({
      'nginx.ingress.kubernetes.io/affinity': 'cookie',
      'fledge.dev/canary-of': 'web',
      [CANARY]: 'true',
      [WEIGHT]: '0',
    });
    expect(created.spec).toEqual({
      ingressClassName: 'nginx',
      rules: [{ host: 'web.example.com', http: { paths: [path('/', 'web-canary')] } }],
    });
    expect(apex(emulator)).toEqual(before);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('reads back the weights it set', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);

    // Act
    await router.setWeights(target, { primary: 70, canary: 30 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 70, canary: 30 });
    expect(canary(emulator).metadata.annotations[WEIGHT]).toBe('30');
  });

  it('creates the canary Ingress when setWeights finds none', async () => {
    // Prepare
    emulator.seed([apexIngress()]);

    // Act
    await router.setWeights(target, { primary: 90, canary: 10 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 90, canary: 10 });
    expect(canary(emulator).spec.rules[0].http.paths).toEqual([path('/', 'web-canary')]);
  });

  it('reports 100/0 while there is no canary Ingress', async () => {
    // Prepare
    emulator.seed([apexIngress()]);

    // Act
    const weights = await router.getWeights(target);

    // Assess
    expect(weights).toEqual({ primary: 100, canary: 0 });
    expect(writes(emulator)).toEqual([]);
  });

  it('is idempotent: the same weights twice write once, and reconcile keeps the weight', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.setWeights(target, { primary: 80, canary: 20 });
    const version = canary(emulator).metadata.resourceVersion;
    emulator.requests.length = 0;

    // Act
    await router.setWeights(target, { primary: 80, canary: 20 });
    await router.reconcile(target);

    // Assess
    expect(writes(emulator)).toEqual([]);
    expect(canary(emulator).metadata.resourceVersion).toBe(version);
    expect(await router.getWeights(target)).toEqual({ primary: 80, canary: 20 });
  });

  it('retries an injected 409 Conflict and succeeds', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);
    emulator.requests.length = 0;
    emulator.faults.add({ method: 'PUT', pathIncludes: '/ingresses/web-canary', status: 409, times: 2 });

    // Act
    await router.setWeights(target, { primary: 60, canary: 40 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 60, canary: 40 });
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 409, 200]);
  });

  it('retries when someone else changes the canary Ingress between its read and its write, and its weight wins', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);
    emulator.requests.length = 0;
    const other = kubeConfigFor({ server: emulator.url }).makeApiClient(NetworkingV1Api);
    emulator.faults.add({
      method: 'PUT',
      pathIncludes: '/ingresses/web-canary',
      times: 1,
      onMatch: async () => {
        const live = await other.readNamespacedIngress({ name: 'web-canary', namespace: 'prod' });
        live.metadata!.annotations![WEIGHT] = '5';
        await other.replaceNamespacedIngress({ name: 'web-canary', namespace: 'prod', body: live });
      },
    });

    // Act
    await router.setWeights(target, { primary: 50, canary: 50 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 50, canary: 50 });
    // In arrival order: the router's first PUT (answered 409 after the other writer's), the other writer's PUT, the retry.
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 200, 200]);
  });

  it('retries when someone else creates the canary Ingress first', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    emulator.faults.add({ method: 'POST', pathIncludes: '/ingresses', status: 409, times: 1 });

    // Act
    await router.reconcile(target);

    // Assess
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 201]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('gives up on a 409 storm with KubernetesTransientError and leaves the canary Ingress unchanged', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);
    const before = canary(emulator);
    emulator.requests.length = 0;
    emulator.faults.add({ method: 'PUT', pathIncludes: '/ingresses/web-canary', status: 409 });

    // Act
    const error = await router.setWeights(target, { primary: 50, canary: 50 }).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/Ingress prod\/web-canary.*409/);
    expect(canary(emulator)).toEqual(before);
    expect(writes(emulator)).toHaveLength(5);
  });

  it.each([
    ['reconcile', (r: NginxRouter) => r.reconcile(target)],
    ['setWeights', (r: NginxRouter) => r.setWeights(target, { primary: 90, canary: 10 })],
    ['getWeights', (r: NginxRouter) => r.getWeights(target)],
    ['finalize', (r: NginxRouter) => r.finalize(target)],
  ])('%s names a missing apex Ingress clearly and writes nothing', async (_name, act) => {
    // Act
    const error = await act(router).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(
      /^Ingress prod\/web not found: Fledge shifts traffic with a canary Ingress beside an existing Ingress whose paths send to Service web/,
    );
    expect(writes(emulator)).toEqual([]);
  });

  it('refuses an apex Ingress with no path to the stable Service, writing nothing', async () => {
    // Prepare
    emulator.seed([apexIngress([path('/', 'legacy')])]);

    // Act
    const error = await router.reconcile(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(/Ingress prod\/web has no path with a backend to Service web/);
    expect(writes(emulator)).toEqual([]);
  });

  it('finalizes: weight 0 first, then the canary Ingress deleted, the apex untouched', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.setWeights(target, { primary: 40, canary: 60 });
    const before = apex(emulator);
    emulator.requests.length = 0;

    // Act
    await router.finalize(target);

    // Assess
    expect(writes(emulator).map((r) => [r.method, (r.body as any)?.metadata?.annotations?.[WEIGHT]])).toEqual([
      ['PUT', '0'],
      ['DELETE', undefined],
    ]);
    expect(canary(emulator)).toBeUndefined();
    expect(apex(emulator)).toEqual(before);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('finalizes twice without complaint: nothing left to remove the second time', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);
    await router.finalize(target);
    emulator.requests.length = 0;

    // Act
    await router.finalize(target);

    // Assess
    expect(writes(emulator)).toEqual([]);
  });

  it('never takes over an Ingress named <route>-canary that Fledge did not create', async () => {
    // Prepare
    const theirs = { ...apexIngress([path('/', 'web')]), metadata: { name: 'web-canary', namespace: 'prod' } };
    emulator.seed([apexIngress(), theirs]);

    // Act
    const errors = await Promise.all([
      router.reconcile(target).catch((err: unknown) => err),
      router.getWeights(target).catch((err: unknown) => err),
      router.finalize(target).catch((err: unknown) => err),
    ]);

    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(KubernetesRequestError);
      expect((error as Error).message).toMatch(/^Ingress prod\/web-canary exists and is not Fledge's canary Ingress for web/);
    }
    expect(writes(emulator)).toEqual([]);
    expect(canary(emulator).spec.rules[0].http.paths).toEqual([path('/', 'web')]);
  });

  it('follows the apex on reconcile: a new path to the stable Service is added, the weight kept', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.setWeights(target, { primary: 75, canary: 25 });
    const other = kubeConfigFor({ server: emulator.url }).makeApiClient(NetworkingV1Api);
    const live = await other.readNamespacedIngress({ name: 'web', namespace: 'prod' });
    live.spec!.rules![0].http!.paths.push(path('/api', 'web', { name: 'http' }) as any);
    await other.replaceNamespacedIngress({ name: 'web', namespace: 'prod', body: live });

    // Act
    await router.reconcile(target);

    // Assess
    expect(canary(emulator).spec.rules[0].http.paths).toEqual([path('/', 'web-canary'), path('/api', 'web-canary', { name: 'http' })]);
    expect(await router.getWeights(target)).toEqual({ primary: 75, canary: 25 });
  });

  it('sends a default backend to the stable Service to the canary Service too', async () => {
    // Prepare
    const withDefault = apexIngress([path('/admin', 'admin')]);
    (withDefault.spec as any).defaultBackend = { service: { name: 'web', port: { number: 80 } } };
    emulator.seed([withDefault]);

    // Act
    await router.reconcile(target);

    // Assess
    expect(canary(emulator).spec).toEqual({
      ingressClassName: 'nginx',
      defaultBackend: { service: { name: 'web-canary', port: { number: 80 } } },
    });
  });

  it('reads canary-weight against canary-weight-total when someone set one', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);
    const live = canary(emulator);
    live.metadata.annotations[WEIGHT] = '250';
    live.metadata.annotations['nginx.ingress.kubernetes.io/canary-weight-total'] = '1000';
    await kubeConfigFor({ server: emulator.url })
      .makeApiClient(NetworkingV1Api)
      .replaceNamespacedIngress({ name: 'web-canary', namespace: 'prod', body: live });

    // Act
    const weights = await router.getWeights(target);
    await router.setWeights(target, { primary: 70, canary: 30 });

    // Assess
    expect(weights).toEqual({ primary: 75, canary: 25 });
    expect(canary(emulator).metadata.annotations['nginx.ingress.kubernetes.io/canary-weight-total']).toBeUndefined();
    expect(await router.getWeights(target)).toEqual({ primary: 70, canary: 30 });
  });

  it.each([
    [{ [CANARY]: 'false' }, /is not marked as a canary/],
    [{ [WEIGHT]: 'ten' }, /canary-weight is "ten", not a whole number/],
  ])('reports drift when the canary Ingress was edited to %o', async (edit, message) => {
    // Prepare
    emulator.seed([apexIngress()]);
    await router.reconcile(target);
    const live = canary(emulator);
    Object.assign(live.metadata.annotations, edit);
    await kubeConfigFor({ server: emulator.url })
      .makeApiClient(NetworkingV1Api)
      .replaceNamespacedIngress({ name: 'web-canary', namespace: 'prod', body: live });

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TrafficDriftError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses weights ingress-nginx cannot express, writing nothing', async () => {
    // Prepare
    emulator.seed([apexIngress()]);

    // Act
    const error = await router.setWeights(target, { primary: 80, canary: 10 }).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(RangeError);
    expect(writes(emulator)).toEqual([]);
  });

  it('turns a server error into KubernetesTransientError naming what it was doing', async () => {
    // Prepare
    emulator.seed([apexIngress()]);
    emulator.faults.add({ method: 'GET', status: 503 });

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/^read Ingress prod\/web failed: 503 ServiceUnavailable/);
  });
});
