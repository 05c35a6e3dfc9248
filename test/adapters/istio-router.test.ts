// IstioRouter against the Kubernetes API emulator, spoken to over HTTP by the real client.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, KubernetesTransientError, TargetNotFoundError, TrafficDriftError } from '../../lambdas/core/errors';
import { kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { IstioRouter, type IstioApiVersion } from '../../lambdas/adapters/routers/istio-router';
import type { RolloutTarget } from '../../lambdas/ports/target';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { WEB_TARGET } from '../helpers/target';

const target: RolloutTarget = WEB_TARGET;

const VIRTUAL_SERVICE = 'networking.istio.io/v1beta1';
const coordinates = { group: 'networking.istio.io', version: 'v1beta1', namespace: 'prod', plural: 'virtualservices' };

/**
 * A VirtualService with one http route to the stable Service, one http route and one tcp route
 * for another app, all of which but the first Fledge must leave alone.
 */
function virtualService(stableRoute: object[] = [{ destination: { host: 'web', port: { number: 80 } } }]) {
  const http: object[] = [
    { name: 'main', match: [{ uri: { prefix: '/' } }], retries: { attempts: 3 }, route: stableRoute },
    { name: 'admin', match: [{ uri: { prefix: '/admin' } }], route: [{ destination: { host: 'admin', port: { number: 8080 } } }] },
  ];
  return {
    apiVersion: VIRTUAL_SERVICE,
    kind: 'VirtualService',
    metadata: { name: 'web', namespace: 'prod' },
    spec: {
      hosts: ['web', 'web.example.com'],
      gateways: ['mesh', 'istio-system/public'],
      http,
      tcp: [{ match: [{ port: 5432 }], route: [{ destination: { host: 'web', port: { number: 5432 } } }] }],
    },
  };
}

const stored = (emulator: KubeEmulator) => emulator.get(VIRTUAL_SERVICE, 'VirtualService', 'prod', 'web');
const writes = (emulator: KubeEmulator) => emulator.requests.filter((r) => !['GET', 'HEAD'].includes(r.method));

describe('IstioRouter', () => {
  let emulator: KubeEmulator;
  let router: IstioRouter;

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    router = new IstioRouter(kubeConfigFor({ server: emulator.url, token: 't' }), { backoffMs: 1 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('adopts the VirtualService: reconcile adds the canary destination at weight 0 and gives the stable one 100', async () => {
    // Prepare
    emulator.seed([virtualService()]);

    // Act
    await router.reconcile(target);

    // Assess
    expect(stored(emulator).spec.http[0].route).toEqual([
      { destination: { host: 'web', port: { number: 80 } }, weight: 100 },
      { destination: { host: 'web-canary', port: { number: 80 } }, weight: 0 },
    ]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('reads back the weights it set', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    await router.reconcile(target);

    // Act
    await router.setWeights(target, { primary: 70, canary: 30 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 70, canary: 30 });
    expect(stored(emulator).spec.http[0].route).toEqual([
      { destination: { host: 'web', port: { number: 80 } }, weight: 70 },
      { destination: { host: 'web-canary', port: { number: 80 } }, weight: 30 },
    ]);
  });

  it('adds the canary destination when setWeights finds none', async () => {
    // Prepare
    emulator.seed([virtualService()]);

    // Act
    await router.setWeights(target, { primary: 90, canary: 10 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 90, canary: 10 });
  });

  it('names the canary host in the form the stable host is written in, and keeps the stable subset to itself', async () => {
    // Prepare
    emulator.seed([virtualService([{ destination: { host: 'web.prod.svc.cluster.local', subset: 'stable' } }])]);

    // Act
    await router.setWeights(target, { primary: 80, canary: 20 });

    // Assess
    expect(stored(emulator).spec.http[0].route).toEqual([
      { destination: { host: 'web.prod.svc.cluster.local', subset: 'stable' }, weight: 80 },
      { destination: { host: 'web-canary.prod.svc.cluster.local' }, weight: 20 },
    ]);
    expect(await router.getWeights(target)).toEqual({ primary: 80, canary: 20 });
  });

  it('is idempotent: the same weights twice write once', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    await router.reconcile(target);
    await router.setWeights(target, { primary: 80, canary: 20 });
    const version = stored(emulator).metadata.resourceVersion;
    emulator.requests.length = 0;

    // Act
    await router.setWeights(target, { primary: 80, canary: 20 });
    await router.reconcile(target);

    // Assess
    expect(writes(emulator)).toEqual([]);
    expect(stored(emulator).metadata.resourceVersion).toBe(version);
  });

  it('retries an injected 409 Conflict and succeeds', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    emulator.faults.add({ method: 'PUT', pathIncludes: '/virtualservices/web', status: 409, times: 2 });

    // Act
    await router.setWeights(target, { primary: 60, canary: 40 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 60, canary: 40 });
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 409, 200]);
  });

  it('retries when someone else changes the VirtualService between its read and its write, keeping their change', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    const other = kubeConfigFor({ server: emulator.url }).makeApiClient(CustomObjectsApi);
    emulator.faults.add({
      method: 'PUT',
      pathIncludes: '/virtualservices/web',
      times: 1,
      onMatch: async () => {
        const live = await other.getNamespacedCustomObject({ ...coordinates, name: 'web' });
        live.metadata.labels = { team: 'payments' };
        await other.replaceNamespacedCustomObject({ ...coordinates, name: 'web', body: live });
      },
    });

    // Act
    await router.setWeights(target, { primary: 50, canary: 50 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 50, canary: 50 });
    expect(stored(emulator).metadata.labels).toEqual({ team: 'payments' });
    // In arrival order: the router's first PUT (answered 409 after the other writer's), the other writer's PUT, the retry.
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 200, 200]);
  });

  it('gives up on a 409 storm with KubernetesTransientError and leaves the VirtualService unchanged', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    const before = stored(emulator);
    emulator.faults.add({ method: 'PUT', pathIncludes: '/virtualservices/web', status: 409 });

    // Act
    const error = await router.setWeights(target, { primary: 50, canary: 50 }).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/VirtualService prod\/web.*409/);
    expect(stored(emulator)).toEqual(before);
    expect(writes(emulator)).toHaveLength(5);
  });

  it('names a missing VirtualService clearly and writes nothing', async () => {
    // Act
    const error = await router.reconcile(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(
      /^VirtualService prod\/web not found: Fledge shifts traffic on an existing VirtualService whose http routes send to host web/,
    );
    expect(writes(emulator)).toEqual([]);
  });

  it('refuses a VirtualService with no http route to the stable host, writing nothing, even when a tcp route has one', async () => {
    // Prepare
    emulator.seed([virtualService([{ destination: { host: 'legacy' } }])]);

    // Act
    const error = await router.reconcile(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(/VirtualService prod\/web has no http route with a destination to host web/);
    expect(writes(emulator)).toEqual([]);
  });

  it('does not take a same-named Service of another namespace for the stable host', async () => {
    // Prepare
    emulator.seed([virtualService([{ destination: { host: 'web.staging.svc.cluster.local' } }])]);

    // Act
    const error = await router.setWeights(target, { primary: 90, canary: 10 }).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect(writes(emulator)).toEqual([]);
  });

  it('finalizes: 100% to stable and the canary destination removed', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    await router.reconcile(target);
    await router.setWeights(target, { primary: 40, canary: 60 });

    // Act
    await router.finalize(target);

    // Assess
    expect(stored(emulator).spec.http[0].route).toEqual([{ destination: { host: 'web', port: { number: 80 } }, weight: 100 }]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('does not pretend to finalize a VirtualService that is gone', async () => {
    // Act
    const error = await router.finalize(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
  });

  it('never touches other routes, tcp routes or the rest of the spec', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    const { http, ...rest } = stored(emulator).spec;

    // Act
    await router.reconcile(target);
    await router.setWeights(target, { primary: 30, canary: 70 });

    // Assess
    const after = stored(emulator).spec;
    expect(after.http[1]).toEqual(http[1]);
    expect({ ...after.http[0], route: undefined }).toEqual({ ...http[0], route: undefined });
    expect({ ...after, http: undefined }).toEqual({ ...rest, http: undefined });
  });

  it('sets every http route that sends to the stable host', async () => {
    // Prepare
    const twoRoutes = virtualService();
    twoRoutes.spec.http.push({
      name: 'api',
      match: [{ uri: { prefix: '/api' } }],
      route: [{ destination: { host: 'web.prod.svc.cluster.local', port: { number: 80 } } }],
    });
    emulator.seed([twoRoutes]);

    // Act
    await router.setWeights(target, { primary: 75, canary: 25 });

    // Assess
    const http = stored(emulator).spec.http;
    expect(http[2].route).toEqual([
      { destination: { host: 'web.prod.svc.cluster.local', port: { number: 80 } }, weight: 75 },
      { destination: { host: 'web-canary.prod.svc.cluster.local', port: { number: 80 } }, weight: 25 },
    ]);
    expect(http[0].route.map((d: { weight: number }) => d.weight)).toEqual([75, 25]);
    expect(await router.getWeights(target)).toEqual({ primary: 75, canary: 25 });
  });

  it.each([
    ['a lone stable destination without weight as 100/0', [{ destination: { host: 'web' } }], { primary: 100, canary: 0 }],
    ['a lone stable destination with any weight as 100/0', [{ destination: { host: 'web' }, weight: 30 }], { primary: 100, canary: 0 }],
    ['a missing weight next to another destination as 0', [{ destination: { host: 'web' } }, { destination: { host: 'web-canary' }, weight: 100 }], { primary: 0, canary: 100 }],
    ['weights that do not add up to 100 in proportion', [{ destination: { host: 'web' }, weight: 3 }, { destination: { host: 'web-canary' }, weight: 1 }], { primary: 75, canary: 25 }],
  ])('reads %s', async (_case, route, weights) => {
    // Prepare
    emulator.seed([virtualService(route)]);

    // Act
    const split = await router.getWeights(target);

    // Assess
    expect(split).toEqual(weights);
  });

  it('reports drift when the http routes sending to the stable host disagree, naming them', async () => {
    // Prepare
    const drifted = virtualService([
      { destination: { host: 'web' }, weight: 90 },
      { destination: { host: 'web-canary' }, weight: 10 },
    ]);
    drifted.spec.http.push({ name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'web' }, weight: 100 }] });
    emulator.seed([drifted]);

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TrafficDriftError);
    expect((error as Error).message).toBe(
      'VirtualService prod/web: http routes that send to host web disagree on weights (http[0] (main): 90/10, http[2] (api): 100/0)',
    );
  });

  it('turns a server error into KubernetesTransientError naming what it was doing', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    emulator.faults.add({ method: 'GET', status: 503 });

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/^read VirtualService prod\/web failed: 503 ServiceUnavailable/);
  });

  it('speaks networking.istio.io/v1 when asked to', async () => {
    // Prepare
    emulator.seed([virtualService()]);
    const v1 = new IstioRouter(kubeConfigFor({ server: emulator.url }), { apiVersion: 'v1', backoffMs: 1 });

    // Act
    await v1.setWeights(target, { primary: 85, canary: 15 });

    // Assess
    expect(emulator.requests.every((r) => r.path.startsWith('/apis/networking.istio.io/v1/'))).toBe(true);
    expect(await router.getWeights(target)).toEqual({ primary: 85, canary: 15 });
  });

  it('refuses an apiVersion it does not speak, showing the value', () => {
    // Act
    const make = () => new IstioRouter(kubeConfigFor({ server: emulator.url }), { apiVersion: 'v1alpha3' as IstioApiVersion });

    // Assess
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow('IstioRouter apiVersion: expected one of v1beta1, v1, got "v1alpha3"');
  });
});
