// GatewayApiRouter against the Kubernetes API emulator, spoken to over HTTP by the real client.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesTransientError, TargetNotFoundError, TrafficDriftError } from '../../lambdas/core/errors';
import { kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { GatewayApiRouter } from '../../lambdas/adapters/routers/gateway-api-router';
import type { RolloutTarget } from '../../lambdas/ports/target';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { WEB_TARGET } from '../helpers/target';

const target: RolloutTarget = WEB_TARGET;

const HTTPROUTE = 'gateway.networking.k8s.io/v1';
const coordinates = { group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'prod', plural: 'httproutes' };

/** A route with one rule for the stable Service and one for another app that Fledge must leave alone. */
function httpRoute(stableRefs: object[] = [{ name: 'web', port: 80 }]) {
  return {
    apiVersion: HTTPROUTE,
    kind: 'HTTPRoute',
    metadata: { name: 'web', namespace: 'prod' },
    spec: {
      parentRefs: [{ name: 'public', namespace: 'gateways' }],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: stableRefs },
        { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'admin', port: 8080 }] },
      ],
    },
  };
}

const route = (emulator: KubeEmulator) => emulator.get(HTTPROUTE, 'HTTPRoute', 'prod', 'web');
const writes = (emulator: KubeEmulator) => emulator.requests.filter((r) => !['GET', 'HEAD'].includes(r.method));

describe('GatewayApiRouter', () => {
  let emulator: KubeEmulator;
  let router: GatewayApiRouter;

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    router = new GatewayApiRouter(kubeConfigFor({ server: emulator.url, token: 't' }), { backoffMs: 1 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('adopts the route: reconcile adds the canary backend at weight 0 and gives the stable one 100', async () => {
    // Prepare
    emulator.seed([httpRoute()]);

    // Act
    await router.reconcile(target);

    // Assess
    expect(route(emulator).spec.rules[0].backendRefs).toEqual([
      { name: 'web', port: 80, weight: 100 },
      { name: 'web-canary', port: 80, weight: 0 },
    ]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('reads back the weights it set', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    await router.reconcile(target);

    // Act
    await router.setWeights(target, { primary: 70, canary: 30 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 70, canary: 30 });
    expect(route(emulator).spec.rules[0].backendRefs).toEqual([
      { name: 'web', port: 80, weight: 70 },
      { name: 'web-canary', port: 80, weight: 30 },
    ]);
  });

  it('adds the canary backend when setWeights finds none', async () => {
    // Prepare
    emulator.seed([httpRoute()]);

    // Act
    await router.setWeights(target, { primary: 90, canary: 10 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 90, canary: 10 });
  });

  it('is idempotent: the same weights twice write once', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    await router.reconcile(target);
    await router.setWeights(target, { primary: 80, canary: 20 });
    const version = route(emulator).metadata.resourceVersion;
    emulator.requests.length = 0;

    // Act
    await router.setWeights(target, { primary: 80, canary: 20 });
    await router.reconcile(target);

    // Assess
    expect(writes(emulator)).toEqual([]);
    expect(route(emulator).metadata.resourceVersion).toBe(version);
  });

  it('retries an injected 409 Conflict and succeeds', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    emulator.faults.add({ method: 'PUT', pathIncludes: '/httproutes/web', status: 409, times: 2 });

    // Act
    await router.setWeights(target, { primary: 60, canary: 40 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 60, canary: 40 });
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 409, 200]);
  });

  it('retries when someone else changes the route between its read and its write, keeping their change', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    const other = kubeConfigFor({ server: emulator.url }).makeApiClient(CustomObjectsApi);
    emulator.faults.add({
      method: 'PUT',
      pathIncludes: '/httproutes/web',
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
    const stored = route(emulator);
    expect(await router.getWeights(target)).toEqual({ primary: 50, canary: 50 });
    expect(stored.metadata.labels).toEqual({ team: 'payments' });
    // In arrival order: the router's first PUT (answered 409 after the other writer's), the other writer's PUT, the retry.
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 200, 200]);
  });

  it('gives up on a 409 storm with KubernetesTransientError and leaves the route unchanged', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    const before = route(emulator);
    emulator.faults.add({ method: 'PUT', pathIncludes: '/httproutes/web', status: 409 });

    // Act
    const error = await router.setWeights(target, { primary: 50, canary: 50 }).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/HTTPRoute prod\/web.*409/);
    expect(route(emulator)).toEqual(before);
    expect(writes(emulator)).toHaveLength(5);
  });

  it('names a missing HTTPRoute clearly and writes nothing', async () => {
    // Act
    const error = await router.reconcile(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(
      /^HTTPRoute prod\/web not found: Fledge shifts traffic on an existing HTTPRoute whose rules send to Service web/,
    );
    expect(writes(emulator)).toEqual([]);
  });

  it('refuses a route with no rule sending to the stable Service, writing nothing', async () => {
    // Prepare
    emulator.seed([httpRoute([{ name: 'legacy', port: 80 }])]);

    // Act
    const error = await router.reconcile(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(/HTTPRoute prod\/web has no rule with a backendRef to Service web/);
    expect(writes(emulator)).toEqual([]);
  });

  it('finalizes: 100% to stable and the canary backend removed', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    await router.reconcile(target);
    await router.setWeights(target, { primary: 40, canary: 60 });

    // Act
    await router.finalize(target);

    // Assess
    expect(route(emulator).spec.rules[0].backendRefs).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('does not pretend to finalize a route that is gone', async () => {
    // Act
    const error = await router.finalize(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
  });

  it('never touches rules that do not send to the stable Service', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    const otherRule = route(emulator).spec.rules[1];

    // Act
    await router.reconcile(target);
    await router.setWeights(target, { primary: 30, canary: 70 });
    await router.finalize(target);

    // Assess
    expect(route(emulator).spec.rules[1]).toEqual(otherRule);
    expect(route(emulator).spec.parentRefs).toEqual([{ name: 'public', namespace: 'gateways' }]);
  });

  it('sets every rule that sends to the stable Service', async () => {
    // Prepare
    const twoRules = httpRoute();
    twoRules.spec.rules.push({ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'web', port: 80 }] });
    emulator.seed([twoRules]);

    // Act
    await router.setWeights(target, { primary: 75, canary: 25 });

    // Assess
    const rules = route(emulator).spec.rules;
    expect(rules[0].backendRefs).toEqual(rules[2].backendRefs);
    expect(await router.getWeights(target)).toEqual({ primary: 75, canary: 25 });
  });

  it('reads a backend without weight as Gateway API default weight 1 and a missing canary as 0', async () => {
    // Prepare
    emulator.seed([httpRoute([{ name: 'web', port: 80 }, { name: 'web-canary', port: 80 }])]);

    // Act
    const split = await router.getWeights(target);

    // Assess
    expect(split).toEqual({ primary: 50, canary: 50 });
  });

  it('reports drift when the rules sending to the stable Service disagree', async () => {
    // Prepare
    const drifted = httpRoute([
      { name: 'web', port: 80, weight: 90 },
      { name: 'web-canary', port: 80, weight: 10 },
    ]);
    drifted.spec.rules.push({ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'web', port: 80, weight: 100 }] });
    emulator.seed([drifted]);

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TrafficDriftError);
    expect((error as Error).message).toMatch(/HTTPRoute prod\/web/);
  });

  it('turns a server error into KubernetesTransientError naming what it was doing', async () => {
    // Prepare
    emulator.seed([httpRoute()]);
    emulator.faults.add({ method: 'GET', status: 503 });

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/^read HTTPRoute prod\/web failed: 503 ServiceUnavailable/);
  });
});
