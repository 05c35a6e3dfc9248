// AlbRouter against the Kubernetes API emulator, spoken to over HTTP by the real client.
import { NetworkingV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesTransientError, TargetNotFoundError, TrafficDriftError } from '../../lambdas/core/errors';
import { kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { AlbRouter } from '../../lambdas/adapters/routers/alb-router';
import type { RolloutTarget } from '../../lambdas/ports/target';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { WEB_TARGET } from '../helpers/target';

const target: RolloutTarget = WEB_TARGET;

const NETWORKING = 'networking.k8s.io/v1';
const ACTION = 'alb.ingress.kubernetes.io/actions.web';
const MARKER = 'fledge.dev/alb-restore-port';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const path = (value: string, service: string, port: object = { number: 80 }) => ({
  path: value,
  pathType: 'Prefix',
  backend: { service: { name: service, port } },
});
const viaAction = (value: string) => path(value, 'web', { name: 'use-annotation' });
const adminPath = () => path('/admin', 'admin', { number: 8080 });

const forward = (targetGroups: object[], forwardConfig: object = {}) => JSON.stringify({ type: 'forward', forwardConfig: { targetGroups, ...forwardConfig } });
const STICKINESS = { targetGroupStickinessConfig: { enabled: true, durationSeconds: 60 } };

/** The user's Ingress: two paths to the stable Service, one to another app, TLS, and the ALB annotations. */
function albIngress(paths: object[] = [path('/', 'web'), path('/api', 'web'), adminPath()], extra: Record<string, string> = {}) {
  const annotations: Record<string, string> = {
    'alb.ingress.kubernetes.io/scheme': 'internet-facing',
    'alb.ingress.kubernetes.io/target-type': 'ip',
    [LAST_APPLIED]: '{"kind":"Ingress"}',
    ...extra,
  };
  return {
    apiVersion: NETWORKING,
    kind: 'Ingress',
    metadata: {
      name: 'web',
      namespace: 'prod',
      labels: { app: 'web' },
      annotations,
    },
    spec: {
      ingressClassName: 'alb',
      tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }],
      rules: [{ host: 'web.example.com', http: { paths } }],
    },
  };
}

/** The user already routes through an action named after the stable Service, as Argo Rollouts has it. */
const actionIngress = (action: string, paths: object[] = [viaAction('/'), adminPath()]) => albIngress(paths, { [ACTION]: action });

const ingress = (emulator: KubeEmulator) => emulator.get(NETWORKING, 'Ingress', 'prod', 'web');
const actionOf = (emulator: KubeEmulator) => JSON.parse(ingress(emulator).metadata.annotations[ACTION]);
const writes = (emulator: KubeEmulator) => emulator.requests.filter((r) => !['GET', 'HEAD'].includes(r.method));

/** Another writer's edit, as `kubectl edit` would make it. */
async function edit(emulator: KubeEmulator, change: (live: any) => void): Promise<void> {
  const api = kubeConfigFor({ server: emulator.url }).makeApiClient(NetworkingV1Api);
  const live = await api.readNamespacedIngress({ name: 'web', namespace: 'prod' });
  change(live);
  await api.replaceNamespacedIngress({ name: 'web', namespace: 'prod', body: live });
}

describe('AlbRouter', () => {
  let emulator: KubeEmulator;
  let router: AlbRouter;

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    router = new AlbRouter(kubeConfigFor({ server: emulator.url, token: 't' }), { backoffMs: 1 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('reconcile converts a plain Ingress in one write: stable paths through the action at 100/0, the rest untouched', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    const before = ingress(emulator);

    // Act
    await router.reconcile(target);

    // Assess
    const after = ingress(emulator);
    expect(writes(emulator).map((r) => [r.method, r.path])).toEqual([['PUT', '/apis/networking.k8s.io/v1/namespaces/prod/ingresses/web']]);
    expect(after.spec).toEqual({ ...before.spec, rules: [{ host: 'web.example.com', http: { paths: [viaAction('/'), viaAction('/api'), adminPath()] } }] });
    expect(after.metadata.labels).toEqual({ app: 'web' });
    expect(after.metadata.annotations).toEqual({ ...before.metadata.annotations, [ACTION]: expect.any(String), [MARKER]: '80' });
    expect(actionOf(emulator)).toEqual({
      type: 'forward',
      forwardConfig: {
        targetGroups: [
          { serviceName: 'web', servicePort: 80, weight: 100 },
          { serviceName: 'web-canary', servicePort: 80, weight: 0 },
        ],
      },
    });
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('is idempotent: a second reconcile, and the same weights twice, write nothing', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.reconcile(target);
    await router.setWeights(target, { primary: 80, canary: 20 });
    const version = ingress(emulator).metadata.resourceVersion;
    emulator.requests.length = 0;

    // Act
    await router.reconcile(target);
    await router.setWeights(target, { primary: 80, canary: 20 });

    // Assess
    expect(writes(emulator)).toEqual([]);
    expect(ingress(emulator).metadata.resourceVersion).toBe(version);
    expect(await router.getWeights(target)).toEqual({ primary: 80, canary: 20 });
  });

  it('sets weights 80/20 on the target groups and reads them back', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.reconcile(target);

    // Act
    await router.setWeights(target, { primary: 80, canary: 20 });

    // Assess
    expect(actionOf(emulator).forwardConfig.targetGroups).toEqual([
      { serviceName: 'web', servicePort: 80, weight: 80 },
      { serviceName: 'web-canary', servicePort: 80, weight: 20 },
    ]);
    expect(await router.getWeights(target)).toEqual({ primary: 80, canary: 20 });
  });

  it('converts and sets the weights in one write when setWeights finds the Ingress plain', async () => {
    // Prepare
    emulator.seed([albIngress()]);

    // Act
    await router.setWeights(target, { primary: 90, canary: 10 });

    // Assess
    expect(writes(emulator)).toHaveLength(1);
    expect(ingress(emulator).spec.rules[0].http.paths[0]).toEqual(viaAction('/'));
    expect(await router.getWeights(target)).toEqual({ primary: 90, canary: 10 });
  });

  it('reports 100/0 for a plain Ingress without writing', async () => {
    // Prepare
    emulator.seed([albIngress()]);

    // Act
    const weights = await router.getWeights(target);

    // Assess
    expect(weights).toEqual({ primary: 100, canary: 0 });
    expect(writes(emulator)).toEqual([]);
  });

  it('adopts an action-form Ingress: the canary target group added at weight 0 on the stable port, other forwardConfig kept, no mark', async () => {
    // Prepare
    emulator.seed([actionIngress(forward([{ serviceName: 'web', servicePort: 'http' }], STICKINESS))]);

    // Act
    await router.reconcile(target);

    // Assess
    expect(actionOf(emulator)).toEqual({
      type: 'forward',
      forwardConfig: {
        targetGroups: [
          { serviceName: 'web', servicePort: 'http', weight: 100 },
          { serviceName: 'web-canary', servicePort: 'http', weight: 0 },
        ],
        ...STICKINESS,
      },
    });
    expect(ingress(emulator).metadata.annotations[MARKER]).toBeUndefined();
    expect(ingress(emulator).spec.rules[0].http.paths).toEqual([viaAction('/'), adminPath()]);
  });

  it('keeps the weight of an existing canary target group on reconcile, writing nothing', async () => {
    // Prepare
    const action = forward([
      { serviceName: 'web', servicePort: 80, weight: 70 },
      { serviceName: 'web-canary', servicePort: 80, weight: 30 },
    ]);
    emulator.seed([actionIngress(action)]);

    // Act
    await router.reconcile(target);

    // Assess
    expect(writes(emulator)).toEqual([]);
    expect(ingress(emulator).metadata.annotations[ACTION]).toBe(action);
    expect(await router.getWeights(target)).toEqual({ primary: 70, canary: 30 });
  });

  it('round-trips a port given by name', async () => {
    // Prepare
    emulator.seed([albIngress([path('/', 'web', { name: 'http' }), adminPath()])]);
    const before = ingress(emulator);

    // Act
    await router.setWeights(target, { primary: 60, canary: 40 });
    const converted = ingress(emulator);
    await router.finalize(target);

    // Assess
    expect(converted.metadata.annotations[MARKER]).toBe('"http"');
    expect(JSON.parse(converted.metadata.annotations[ACTION]).forwardConfig.targetGroups).toEqual([
      { serviceName: 'web', servicePort: 'http', weight: 60 },
      { serviceName: 'web-canary', servicePort: 'http', weight: 40 },
    ]);
    expect(ingress(emulator).spec).toEqual(before.spec);
    expect(ingress(emulator).spec.rules[0].http.paths[0].backend.service.port).toEqual({ name: 'http' });
  });

  it('finalize restores the plain Ingress exactly as it was before reconcile, in one write', async () => {
    // Prepare
    const plain = albIngress();
    (plain.spec as any).defaultBackend = { service: { name: 'web', port: { number: 80 } } };
    emulator.seed([plain]);
    const before = ingress(emulator);
    await router.reconcile(target);
    await router.setWeights(target, { primary: 40, canary: 60 });
    expect(ingress(emulator).spec.defaultBackend).toEqual({ service: { name: 'web', port: { name: 'use-annotation' } } });
    emulator.requests.length = 0;

    // Act
    await router.finalize(target);

    // Assess
    const after = ingress(emulator);
    expect(writes(emulator)).toHaveLength(1);
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
    expect(after.metadata.labels).toEqual(before.metadata.labels);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it('finalizes a plain Ingress, and a finalized one, without writing', async () => {
    // Prepare
    emulator.seed([albIngress()]);

    // Act
    await router.finalize(target);
    await router.reconcile(target);
    await router.finalize(target);
    emulator.requests.length = 0;
    await router.finalize(target);

    // Assess
    expect(writes(emulator)).toEqual([]);
  });

  it("finalize on the user's own action removes the canary target group and gives the stable one 100%, keeping the rest", async () => {
    // Prepare
    emulator.seed([
      actionIngress(
        forward(
          [
            { serviceName: 'web', servicePort: 'http', weight: 50 },
            { serviceName: 'web-canary', servicePort: 'http', weight: 50 },
          ],
          STICKINESS,
        ),
      ),
    ]);

    // Act
    await router.finalize(target);

    // Assess
    expect(actionOf(emulator)).toEqual({
      type: 'forward',
      forwardConfig: { targetGroups: [{ serviceName: 'web', servicePort: 'http', weight: 100 }], ...STICKINESS },
    });
    expect(ingress(emulator).spec.rules[0].http.paths).toEqual([viaAction('/'), adminPath()]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it.each([
    ['no backend to the stable Service', albIngress([path('/', 'legacy')]), /^Ingress prod\/web has no path with a backend to Service web: Fledge shifts traffic/],
    [
      'stable backends on different ports',
      albIngress([path('/', 'web'), path('/api', 'web', { name: 'http' })]),
      /Ingress prod\/web sends to Service web on different ports \(path web.example.com\/: 80, path web.example.com\/api: "http"\)/,
    ],
    [
      'an action forwarding to a targetGroupARN',
      actionIngress(
        forward([
          { serviceName: 'web', servicePort: 80, weight: 90 },
          { targetGroupARN: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/legacy/0123', weight: 10 },
        ]),
      ),
      /annotation alb\.ingress\.kubernetes\.io\/actions\.web forwards to targetGroupARN arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup\/legacy\/0123/,
    ],
    [
      'an action forwarding to another Service',
      actionIngress(
        forward([
          { serviceName: 'web', servicePort: 80, weight: 90 },
          { serviceName: 'legacy', servicePort: 80, weight: 10 },
        ]),
      ),
      /actions\.web forwards to Service legacy: Fledge shifts traffic only between Service web and Service web-canary/,
    ],
    ['an action that is not JSON', actionIngress('{"type":"forward",'), /annotation alb\.ingress\.kubernetes\.io\/actions\.web is not valid JSON/],
    ['an action that is not a forward', actionIngress('{"type":"fixed-response","fixedResponseConfig":{"statusCode":"503"}}'), /actions\.web is not a forward action \(type "fixed-response"\)/],
    ['an action without the stable Service', actionIngress(forward([{ serviceName: 'web-canary', servicePort: 80, weight: 1 }])), /actions\.web has no target group for Service web/],
    ['backends through an action that is missing', albIngress([viaAction('/')]), /actions\.web is missing, yet backends use it \(path web.example.com\/\)/],
    [
      'an unused action of the same name',
      albIngress([path('/', 'web')], { [ACTION]: forward([{ serviceName: 'web', servicePort: 80 }]) }),
      /has annotation alb\.ingress\.kubernetes\.io\/actions\.web, which none of its backends uses/,
    ],
    [
      'some backends through the action and some straight to the Service',
      actionIngress(forward([{ serviceName: 'web', servicePort: 80 }]), [viaAction('/'), path('/api', 'web')]),
      /sends path web.example.com\/ to Service web through action web and path web.example.com\/api straight to it/,
    ],
  ])('refuses %s with TargetNotFoundError, writing nothing', async (_name, seeded, message) => {
    // Prepare
    emulator.seed([seeded]);
    const before = ingress(emulator);

    // Act
    const errors = await Promise.all([
      router.reconcile(target).catch((err: unknown) => err),
      router.setWeights(target, { primary: 90, canary: 10 }).catch((err: unknown) => err),
      router.canaryBackend(target).catch((err: unknown) => err),
    ]);

    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(TargetNotFoundError);
      expect((error as Error).message).toMatch(message);
    }
    expect(writes(emulator)).toEqual([]);
    expect(ingress(emulator)).toEqual(before);
  });

  it.each([12.5, '80', 1000, null])('reports drift when a target group weight was edited to %j', async (weight) => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.setWeights(target, { primary: 80, canary: 20 });
    await edit(emulator, (live) => {
      const action = JSON.parse(live.metadata.annotations[ACTION]);
      action.forwardConfig.targetGroups[0].weight = weight;
      live.metadata.annotations[ACTION] = JSON.stringify(action);
    });

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TrafficDriftError);
    expect((error as Error).message).toMatch(
      new RegExp(`^Ingress prod/web: annotation alb\\.ingress\\.kubernetes\\.io/actions\\.web gives Service web weight ${JSON.stringify(weight)}, not a whole number from 0 to 999`),
    );
  });

  it("reports drift, writing nothing, when Fledge's converted action was edited to forward elsewhere", async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.reconcile(target);
    await edit(emulator, (live) => {
      const action = JSON.parse(live.metadata.annotations[ACTION]);
      action.forwardConfig.targetGroups.push({ serviceName: 'legacy', servicePort: 80, weight: 5 });
      live.metadata.annotations[ACTION] = JSON.stringify(action);
    });
    const before = ingress(emulator);
    emulator.requests.length = 0;

    // Act
    const errors = await Promise.all([
      router.reconcile(target).catch((err: unknown) => err),
      router.getWeights(target).catch((err: unknown) => err),
    ]);

    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(TrafficDriftError);
      expect((error as Error).message).toMatch(/actions\.web forwards to Service legacy.*\(it was changed since Fledge wrote it\)/);
    }
    expect(writes(emulator)).toEqual([]);
    expect(ingress(emulator)).toEqual(before);
  });

  it('reads the real split when kubectl apply put the plain backends back, and reconcile converts them again at 100/0', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.setWeights(target, { primary: 70, canary: 30 });
    await edit(emulator, (live) => {
      live.spec.rules[0].http.paths = [path('/', 'web'), path('/api', 'web'), adminPath()];
    });

    // Act
    const reverted = await router.getWeights(target);
    await router.reconcile(target);

    // Assess
    expect(reverted).toEqual({ primary: 100, canary: 0 });
    expect(ingress(emulator).spec.rules[0].http.paths).toEqual([viaAction('/'), viaAction('/api'), adminPath()]);
    expect(await router.getWeights(target)).toEqual({ primary: 100, canary: 0 });
  });

  it("finalize removes Fledge's action and mark when kubectl apply already put the plain backends back", async () => {
    // Prepare
    emulator.seed([albIngress()]);
    const before = ingress(emulator);
    await router.setWeights(target, { primary: 70, canary: 30 });
    await edit(emulator, (live) => {
      live.spec.rules[0].http.paths = [path('/', 'web'), path('/api', 'web'), adminPath()];
    });

    // Act
    await router.finalize(target);

    // Assess
    expect(ingress(emulator).metadata.annotations).toEqual(before.metadata.annotations);
    expect(ingress(emulator).spec).toEqual(before.spec);
  });

  it('getWeights refuses an Ingress with no backend to the stable Service; finalize has nothing to do there', async () => {
    // Prepare
    emulator.seed([albIngress([path('/', 'legacy')])]);

    // Act
    const error = await router.getWeights(target).catch((err: unknown) => err);
    await router.finalize(target);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(/^Ingress prod\/web has no path with a backend to Service web/);
    expect(writes(emulator)).toEqual([]);
  });

  it('retries an injected 409 Conflict and succeeds', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.reconcile(target);
    emulator.requests.length = 0;
    emulator.faults.add({ method: 'PUT', pathIncludes: '/ingresses/web', status: 409, times: 2 });

    // Act
    await router.setWeights(target, { primary: 60, canary: 40 });

    // Assess
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 409, 200]);
    expect(await router.getWeights(target)).toEqual({ primary: 60, canary: 40 });
  });

  it('retries when someone else changes the Ingress between its read and its write, keeping their change', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.reconcile(target);
    emulator.requests.length = 0;
    emulator.faults.add({
      method: 'PUT',
      pathIncludes: '/ingresses/web',
      times: 1,
      onMatch: () =>
        edit(emulator, (live) => {
          live.metadata.annotations['alb.ingress.kubernetes.io/healthcheck-path'] = '/healthz';
        }),
    });

    // Act
    await router.setWeights(target, { primary: 50, canary: 50 });

    // Assess
    expect(await router.getWeights(target)).toEqual({ primary: 50, canary: 50 });
    expect(ingress(emulator).metadata.annotations['alb.ingress.kubernetes.io/healthcheck-path']).toBe('/healthz');
    // In arrival order: the router's first PUT (answered 409 after the other writer's), the other writer's PUT, the retry.
    expect(writes(emulator).map((r) => r.status)).toEqual([409, 200, 200]);
  });

  it('gives up on a 409 storm with KubernetesTransientError and leaves the Ingress unchanged', async () => {
    // Prepare
    emulator.seed([albIngress()]);
    const before = ingress(emulator);
    emulator.faults.add({ method: 'PUT', pathIncludes: '/ingresses/web', status: 409 });

    // Act
    const error = await router.reconcile(target).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/Ingress prod\/web.*409/);
    expect(ingress(emulator)).toEqual(before);
    expect(writes(emulator)).toHaveLength(5);
  });

  it.each([
    ['reconcile', (r: AlbRouter) => r.reconcile(target)],
    ['setWeights', (r: AlbRouter) => r.setWeights(target, { primary: 90, canary: 10 })],
    ['getWeights', (r: AlbRouter) => r.getWeights(target)],
    ['finalize', (r: AlbRouter) => r.finalize(target)],
    ['canaryBackend', (r: AlbRouter) => r.canaryBackend(target)],
  ])('%s names a missing Ingress clearly and writes nothing', async (_name, act) => {
    // Act
    const error = await act(router).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect((error as Error).message).toMatch(/^Ingress prod\/web not found: Fledge shifts traffic with an ALB forward action on an existing Ingress whose paths send to Service web/);
    expect(writes(emulator)).toEqual([]);
  });

  it('refuses weights that are not whole percentages summing to 100, writing nothing', async () => {
    // Prepare
    emulator.seed([albIngress()]);

    // Act
    const error = await router.setWeights(target, { primary: 80, canary: 10 }).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(RangeError);
    expect(writes(emulator)).toEqual([]);
  });

  it("canaryBackend gives the canary target group's port and the implicit stack's labels", async () => {
    // Prepare
    emulator.seed([albIngress()]);
    await router.reconcile(target);

    // Act
    const backend = await router.canaryBackend(target);

    // Assess
    expect(backend).toEqual({ port: 80, stackLabels: { 'ingress.k8s.aws/stack-namespace': 'prod', 'ingress.k8s.aws/stack-name': 'web' } });
  });

  it("canaryBackend gives a named port and the group's stack label, writing nothing", async () => {
    // Prepare
    const grouped = actionIngress(
      forward([
        { serviceName: 'web', servicePort: 'http', weight: 100 },
        { serviceName: 'web-canary', servicePort: 'http', weight: 0 },
      ]),
    );
    grouped.metadata.annotations['alb.ingress.kubernetes.io/group.name'] = 'shop';
    emulator.seed([grouped]);

    // Act
    const backend = await router.canaryBackend(target);

    // Assess
    expect(backend).toEqual({ port: 'http', stackLabels: { 'ingress.k8s.aws/stack': 'shop' } });
    expect(writes(emulator)).toEqual([]);
  });

  it("reads the actions under the controller's --annotations-prefix", async () => {
    // Prepare
    const custom = new AlbRouter(kubeConfigFor({ server: emulator.url, token: 't' }), { backoffMs: 1, annotationsPrefix: 'alb.example.com' });
    emulator.seed([albIngress([path('/', 'web')], { 'alb.example.com/group.name': 'shop' })]);

    // Act
    await custom.setWeights(target, { primary: 75, canary: 25 });

    // Assess
    const annotations = ingress(emulator).metadata.annotations;
    expect(annotations[ACTION]).toBeUndefined();
    expect(JSON.parse(annotations['alb.example.com/actions.web']).forwardConfig.targetGroups.map((g: any) => g.weight)).toEqual([75, 25]);
    expect((await custom.canaryBackend(target)).stackLabels).toEqual({ 'ingress.k8s.aws/stack': 'shop' });
  });
  it('gives the canary target group\'s dimensions as template variables, asking the lookup for the canary Service on the action\'s port', async () => {
    // Prepare
    const queries: unknown[] = [];
    const lookup = new AlbRouter(kubeConfigFor({ server: emulator.url, token: 't' }), {
      targetGroups: {
        dimensionsOf: async (query) => {
          queries.push(query);
          return { targetGroup: 'targetgroup/k8s-prod-webcanar-0a1b2c3d4e/0123456789abcdef', loadBalancer: 'app/k8s-prod-web-1a2b3c4d5e/fedcba9876543210' };
        },
      },
    });
    emulator.seed([albIngress([path('/', 'web', { name: 'http' })])]);
    await lookup.reconcile(target);

    // Act
    const variables = await lookup.metricVariables(target);

    // Assess
    expect(variables).toEqual({
      targetGroup: 'targetgroup/k8s-prod-webcanar-0a1b2c3d4e/0123456789abcdef',
      loadBalancer: 'app/k8s-prod-web-1a2b3c4d5e/fedcba9876543210',
    });
    expect(queries).toEqual([
      { namespace: 'prod', service: 'web-canary', port: 'http', stackLabels: { 'ingress.k8s.aws/stack-namespace': 'prod', 'ingress.k8s.aws/stack-name': 'web' } },
    ]);
  });

  it('says it has no target group lookup rather than inventing dimensions', async () => {
    // Prepare
    emulator.seed([albIngress()]);

    // Act
    const error = await router.metricVariables(target).catch((err: unknown) => err);

    // Assess
    expect(error).toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining('without a target group lookup') });
  });
});
