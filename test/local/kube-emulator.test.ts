// The Kubernetes API emulator answers the real @kubernetes/client-node over HTTP as an API server would.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';

function kubeConfig(server: string, token = 'test-token'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'emulator', server, skipTLSVerify: true }],
    users: [{ name: 'fledge', token }],
    contexts: [{ name: 'emulator', cluster: 'emulator', user: 'fledge' }],
    currentContext: 'emulator',
  });
  return kc;
}

/** The patch content type travels as a per-call header option: client-node 1.x otherwise sends application/json-patch+json. */
const as = (strategy: PatchStrategy) => setHeaderOptions('Content-Type', strategy);

const deployment = (name = 'web', image = 'nginx:1.27'): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'prod', labels: { app: name } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }, { name: 'sidecar', image: 'envoy:1' }] } },
  },
});

async function rejection(promise: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiException) return err as ApiException<string>;
    throw err;
  }
  throw new Error('expected the request to fail');
}

/** Polls until the check passes; the emulator's controller runs on its own clock. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('condition never met');
}

describe('Kubernetes API emulator', () => {
  let emulator: KubeEmulator;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  beforeEach(async () => {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    const kc = kubeConfig(emulator.url);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
  });

  afterEach(async () => {
    await emulator.close();
  });

  describe('objects', () => {
    it('creates a Deployment with uid, creationTimestamp, resourceVersion and generation 1', async () => {
      // Act
      const created = await apps.createNamespacedDeployment({ namespace: 'prod', body: deployment() });

      // Assess
      expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
      expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
      expect(created.metadata?.generation).toBe(1);
      expect(created.metadata?.namespace).toBe('prod');
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web')?.spec.replicas).toBe(2);
    });

    it('takes the namespace from the path when the body has none', async () => {
      // Act
      const created = await core.createNamespacedConfigMap({ namespace: 'prod', body: { metadata: { name: 'settings' }, data: { a: '1' } } });

      // Assess
      expect(created.metadata?.namespace).toBe('prod');
    });

    it('reads, lists by label selector and field selector, and replaces', async () => {
      // Prepare
      emulator.seed([deployment('web'), deployment('api'), { ...deployment('db'), metadata: { name: 'db', namespace: 'other', labels: { app: 'db' } } }]);

      // Act
      const read = await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' });
      const byLabel = await apps.listNamespacedDeployment({ namespace: 'prod', labelSelector: 'app=api' });
      const notWeb = await apps.listNamespacedDeployment({ namespace: 'prod', labelSelector: 'app!=web' });
      const inSet = await apps.listDeploymentForAllNamespaces({ labelSelector: 'app in (db,web)' });
      const byName = await apps.listNamespacedDeployment({ namespace: 'prod', fieldSelector: 'metadata.name=web' });
      read.spec!.replicas = 5;
      const replaced = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'prod', body: read });

      // Assess
      expect(byLabel.items.map((d) => d.metadata?.name)).toEqual(['api']);
      expect(notWeb.items.map((d) => d.metadata?.name)).toEqual(['api']);
      expect(inSet.items.map((d) => d.metadata?.name)).toEqual(['db', 'web']);
      expect(byName.items.map((d) => d.metadata?.name)).toEqual(['web']);
      expect(replaced.spec?.replicas).toBe(5);
      expect(replaced.metadata?.generation).toBe(2);
      expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    });

    it('resolves plurals through discovery for KubernetesObjectApi', async () => {
      // Prepare
      emulator.seed([deployment()]);
      const objects = KubernetesObjectApi.makeApiClient(kubeConfig(emulator.url));

      // Act
      const read = await objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'prod' } });

      // Assess
      expect(read.metadata?.uid).toBeDefined();
    });

    it('deletes an object', async () => {
      // Prepare
      emulator.seed([deployment()]);

      // Act
      await apps.deleteNamespacedDeployment({ name: 'web', namespace: 'prod' });

      // Assess
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web')).toBeUndefined();
    });
  });

  describe('patches', () => {
    beforeEach(() => {
      emulator.seed([deployment()]);
    });

    it('applies a JSON merge patch', async () => {
      // Act
      const patched = await apps.patchNamespacedDeployment(
        { name: 'web', namespace: 'prod', body: { metadata: { annotations: { 'fledge.dev/status': '{}' } } } },
        as(PatchStrategy.MergePatch),
      );

      // Assess
      expect(patched.metadata?.annotations).toEqual({ 'fledge.dev/status': '{}' });
      expect(patched.metadata?.generation).toBe(1);
      expect(emulator.requests.at(-1)?.contentType).toBe('application/merge-patch+json');
    });

    it('applies a JSON patch, the client default', async () => {
      // Act
      const patched = await apps.patchNamespacedDeployment({
        name: 'web',
        namespace: 'prod',
        body: [
          { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'app' },
          { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'nginx:1.28' },
        ],
      });

      // Assess
      expect(patched.spec?.template.spec?.containers.map((c) => c.image)).toEqual(['nginx:1.28', 'envoy:1']);
      expect(emulator.requests.at(-1)?.contentType).toBe('application/json-patch+json');
    });

    it('merges containers by name in a strategic merge patch', async () => {
      // Act
      const patched = await apps.patchNamespacedDeployment(
        { name: 'web', namespace: 'prod', body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:1.29' }] } } } } },
        as(PatchStrategy.StrategicMergePatch),
      );

      // Assess
      expect(patched.spec?.template.spec?.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['app=nginx:1.29', 'sidecar=envoy:1']);
      expect(patched.metadata?.generation).toBe(2);
    });

    it('deletes a list item with $patch: delete in a strategic merge patch', async () => {
      // Act
      const patched = await apps.patchNamespacedDeployment(
        { name: 'web', namespace: 'prod', body: { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } } },
        as(PatchStrategy.StrategicMergePatch),
      );

      // Assess
      expect(patched.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['app']);
    });

    it('refuses strategic merge patch on a custom resource with 415, as a real server does', async () => {
      // Prepare
      emulator.seed([{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'prod' }, spec: { rules: [] } }]);

      // Act
      const error = await rejection(
        custom.patchNamespacedCustomObject(
          { group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'prod', plural: 'httproutes', name: 'web', body: { spec: {} } },
          as(PatchStrategy.StrategicMergePatch),
        ),
      );

      // Assess
      expect(error.code).toBe(415);
      expect(JSON.parse(error.body).reason).toBe('UnsupportedMediaType');
    });

    it('answers a failing JSON patch test with 422 Invalid and changes nothing', async () => {
      // Prepare
      const before = emulator.get('apps/v1', 'Deployment', 'prod', 'web');

      // Act
      const error = await rejection(
        apps.patchNamespacedDeployment({
          name: 'web',
          namespace: 'prod',
          body: [
            { op: 'test', path: '/spec/replicas', value: 7 },
            { op: 'replace', path: '/spec/replicas', value: 9 },
          ],
        }),
      );

      // Assess
      expect(error.code).toBe(422);
      expect(JSON.parse(error.body)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422 });
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web')).toEqual(before);
    });
  });

  describe('errors as Status objects', () => {
    it('answers an unknown object with 404 NotFound naming the resource', async () => {
      // Act
      const error = await rejection(apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }));

      // Assess
      expect(error.code).toBe(404);
      expect(JSON.parse(error.body)).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'deployments.apps "web" not found',
        reason: 'NotFound',
        details: { name: 'web', group: 'apps', kind: 'deployments' },
        code: 404,
      });
    });

    it('answers a second create of the same name with 409 AlreadyExists', async () => {
      // Prepare
      emulator.seed([deployment()]);

      // Act
      const error = await rejection(apps.createNamespacedDeployment({ namespace: 'prod', body: deployment() }));

      // Assess
      expect(error.code).toBe(409);
      expect(JSON.parse(error.body)).toMatchObject({ reason: 'AlreadyExists', message: 'deployments.apps "web" already exists' });
    });

    it('answers a write with a stale resourceVersion with 409 Conflict', async () => {
      // Prepare
      emulator.seed([deployment()]);
      const stale = await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' });
      await apps.patchNamespacedDeployment({ name: 'web', namespace: 'prod', body: { spec: { replicas: 3 } } }, as(PatchStrategy.MergePatch));

      // Act
      const put = await rejection(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'prod', body: stale }));
      const patch = await rejection(
        apps.patchNamespacedDeployment(
          { name: 'web', namespace: 'prod', body: { metadata: { resourceVersion: stale.metadata?.resourceVersion }, spec: { replicas: 4 } } },
          as(PatchStrategy.MergePatch),
        ),
      );

      // Assess
      for (const error of [put, patch]) {
        expect(error.code).toBe(409);
        expect(JSON.parse(error.body)).toMatchObject({
          reason: 'Conflict',
          message:
            'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
          details: { name: 'web', group: 'apps', kind: 'deployments' },
        });
      }
    });

    it('answers an invalid name with 422 Invalid and the field', async () => {
      // Act
      const error = await rejection(apps.createNamespacedDeployment({ namespace: 'prod', body: deployment('Web_1') }));

      // Assess
      expect(error.code).toBe(422);
      expect(JSON.parse(error.body)).toMatchObject({
        reason: 'Invalid',
        details: { name: 'Web_1', group: 'apps', kind: 'Deployment', causes: [{ field: 'metadata.name', reason: 'FieldValueInvalid' }] },
      });
      expect(JSON.parse(error.body).message).toMatch(/^Deployment\.apps "Web_1" is invalid: metadata\.name: Invalid value/);
    });

    it('answers a PUT whose body names another object with 400 BadRequest, as a real server does', async () => {
      // Prepare
      emulator.seed([deployment()]);

      // Act
      const error = await rejection(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'prod', body: deployment('api') }));

      // Assess
      expect(error.code).toBe(400);
      expect(JSON.parse(error.body).message).toBe('the name of the object (api) does not match the name on the URL (web)');
    });

    it('refuses a change of a Deployment selector as immutable', async () => {
      // Prepare
      emulator.seed([deployment()]);
      const changed = deployment();
      changed.spec!.selector = { matchLabels: { app: 'web', track: 'x' } };
      changed.spec!.template.metadata!.labels = { app: 'web', track: 'x' };

      // Act
      const error = await rejection(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'prod', body: changed }));

      // Assess
      expect(error.code).toBe(422);
      expect(JSON.parse(error.body).details.causes[0]).toMatchObject({ field: 'spec.selector' });
    });
  });

  describe('subresources and the simulated Deployment controller', () => {
    it('rolls a new generation out after the rollout delay', async () => {
      // Prepare
      emulator.seed([deployment()]);

      // Act
      const patched = await apps.patchNamespacedDeployment(
        { name: 'web', namespace: 'prod', body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:2' }] } } } } },
        as(PatchStrategy.StrategicMergePatch),
      );
      const inProgress = await eventually(
        () => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }),
        (d) => d.status?.observedGeneration === patched.metadata?.generation,
      );
      const done = await eventually(
        () => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }),
        (d) => d.status?.updatedReplicas === 2,
      );

      // Assess
      expect(inProgress.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('ReplicaSetUpdated');
      expect(inProgress.status?.updatedReplicas ?? 0).toBeLessThan(2);
      expect(done.status).toMatchObject({ observedGeneration: 2, replicas: 2, readyReplicas: 2, availableReplicas: 2 });
      expect(done.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    });

    it('reports ProgressDeadlineExceeded for a stuck rollout, on the scaled clock', async () => {
      // Prepare
      const stuck = deployment();
      stuck.spec!.progressDeadlineSeconds = 2;
      emulator.seed([stuck]);
      emulator.setRolloutBehavior('prod', 'web', 'stuck');

      // Act
      await apps.patchNamespacedDeployment({ name: 'web', namespace: 'prod', body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'bad:1' }] });
      const failed = await eventually(
        () => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }),
        (d) => d.status?.conditions?.some((c) => c.type === 'Progressing' && c.status === 'False') ?? false,
      );

      // Assess
      expect(failed.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('ProgressDeadlineExceeded');
      expect(failed.status?.updatedReplicas ?? 0).toBeLessThan(2);
    });

    it('scales through the scale subresource and completes a scale to zero', async () => {
      // Prepare
      emulator.seed([deployment()]);

      // Act
      const scale = await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 0 } } }, as(PatchStrategy.MergePatch));
      const done = await eventually(
        () => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }),
        (d) => d.status?.observedGeneration === d.metadata?.generation,
      );

      // Assess
      expect(scale.spec?.replicas).toBe(0);
      expect(done.spec?.replicas).toBe(0);
      expect(done.status?.replicas ?? 0).toBe(0);
    });

    it('keeps status out of main-resource writes and spec out of status writes', async () => {
      // Prepare
      emulator.seed([deployment()]);
      const read = await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' });

      // Act
      const main = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'prod', body: { ...read, status: { replicas: 42 } } });
      const status = await apps.patchNamespacedDeploymentStatus(
        { name: 'web', namespace: 'prod', body: { spec: { replicas: 9 }, status: { replicas: 7 } } },
        as(PatchStrategy.MergePatch),
      );

      // Assess
      expect(main.status?.replicas).toBe(2);
      expect(status.status?.replicas).toBe(7);
      expect(status.spec?.replicas).toBe(2);
      expect(status.metadata?.generation).toBe(1);
    });
  });

  describe('custom resources', () => {
    it('creates, replaces and reads an HTTPRoute through CustomObjectsApi', async () => {
      // Prepare
      const coordinates = { group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'prod', plural: 'httproutes' };
      await custom.createNamespacedCustomObject({
        ...coordinates,
        body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web' }, spec: { rules: [] } },
      });
      const route = await custom.getNamespacedCustomObject({ ...coordinates, name: 'web' });

      // Act
      route.spec.rules = [{ backendRefs: [{ name: 'web', port: 80 }] }];
      const replaced = await custom.replaceNamespacedCustomObject({ ...coordinates, name: 'web', body: route });

      // Assess
      expect(replaced.metadata.generation).toBe(2);
      expect(emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'prod', 'web').spec.rules).toHaveLength(1);
    });

    it('serves any custom resource, as if its CRD were installed, with the kind its objects carry', async () => {
      // Prepare
      const coordinates = { group: 'elbv2.k8s.aws', version: 'v1beta1', namespace: 'prod', plural: 'targetgroupbindings' };
      const missing = await rejection(custom.getNamespacedCustomObject({ ...coordinates, name: 'web' }));

      // Act
      await custom.createNamespacedCustomObject({
        ...coordinates,
        body: { apiVersion: 'elbv2.k8s.aws/v1beta1', kind: 'TargetGroupBinding', metadata: { name: 'web' }, spec: { serviceRef: { name: 'web', port: 80 } } },
      });
      const read = await custom.getNamespacedCustomObject({ ...coordinates, name: 'web' });

      // Assess
      expect(JSON.parse(missing.body).message).toBe('targetgroupbindings.elbv2.k8s.aws "web" not found');
      expect(read.kind).toBe('TargetGroupBinding');
      expect(emulator.list('elbv2.k8s.aws/v1beta1', 'TargetGroupBinding', 'prod').map((o) => o.metadata.name)).toEqual(['web']);
    });

    it('requires a resourceVersion to replace a custom resource, as a real server does', async () => {
      // Prepare
      emulator.seed([{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'prod' }, spec: { http: [] } }]);

      // Act
      const error = await rejection(
        custom.replaceNamespacedCustomObject({
          group: 'networking.istio.io',
          version: 'v1',
          namespace: 'prod',
          plural: 'virtualservices',
          name: 'web',
          body: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web' }, spec: { http: [{}] } },
        }),
      );

      // Assess
      expect(error.code).toBe(422);
      expect(JSON.parse(error.body).details.causes[0].field).toBe('metadata.resourceVersion');
    });
  });

  describe('authentication and faults', () => {
    it('answers a request without the bearer token with 401 Unauthorized', async () => {
      // Prepare
      const secured = await startKubeEmulator({ bearerToken: 'right' });
      const wrong = kubeConfig(secured.url, 'wrong').makeApiClient(CoreV1Api);
      const right = kubeConfig(secured.url, 'right').makeApiClient(CoreV1Api);

      try {
        // Act
        const error = await rejection(wrong.listNamespacedService({ namespace: 'prod' }));
        const list = await right.listNamespacedService({ namespace: 'prod' });

        // Assess
        expect(error.code).toBe(401);
        expect(list.items).toEqual([]);
        expect(secured.requests.map((r) => r.status)).toEqual([401, 200]);
      } finally {
        await secured.close();
      }
    });

    it('answers an injected fault for the given number of times, then normally', async () => {
      // Prepare
      emulator.seed([deployment()]);
      emulator.faults.add({ method: 'GET', pathIncludes: '/deployments/web', status: 503, times: 1 });

      // Act
      const error = await rejection(apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }));
      const read = await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' });

      // Assess
      expect(error.code).toBe(503);
      expect(JSON.parse(error.body)).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
      expect(read.metadata?.name).toBe('web');
    });

    it('resets connections while down', async () => {
      // Prepare
      emulator.faults.down(60_000);

      // Act
      const failure = await core.listNamespacedService({ namespace: 'prod' }).catch((err: unknown) => err);
      emulator.faults.clear();
      const list = await core.listNamespacedService({ namespace: 'prod' });

      // Assess
      expect(failure).toBeInstanceOf(Error);
      expect(failure).not.toBeInstanceOf(ApiException);
      expect(list.items).toEqual([]);
    });
  });
});
