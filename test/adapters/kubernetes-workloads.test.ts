// KubernetesWorkloads and KubernetesEventRecorder against the Kubernetes API emulator, over HTTP with the real client.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeConfigFor, kubernetesError } from '../../lambdas/adapters/kubernetes/client';
import { KubernetesEventRecorder } from '../../lambdas/adapters/kubernetes/kubernetes-event-recorder';
import { KubernetesWorkloads, canaryLabelValue } from '../../lambdas/adapters/kubernetes/kubernetes-workloads';
import { KubernetesRequestError, KubernetesTransientError, TargetNotFoundError } from '../../lambdas/core/errors';
import type { RolloutTarget } from '../../lambdas/ports/target';
import type { RolloutProgress } from '../../lambdas/ports/workloads';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { WEB_TARGET } from '../helpers/target';

const target: RolloutTarget = WEB_TARGET;

const NEW_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:' + 'a'.repeat(64);

const stableDeployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'prod', labels: { app: 'web' } },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web', tier: 'frontend' } },
    template: {
      metadata: { labels: { app: 'web', tier: 'frontend', version: 'v1' }, annotations: { 'prometheus.io/scrape': 'true' } },
      spec: {
        containers: [
          { name: 'app', image: 'web:1.0', ports: [{ containerPort: 8080 }] },
          { name: 'proxy', image: 'envoy:1.30' },
        ],
      },
    },
  },
});

const stableService = () => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'prod' },
  // The Service selects on a label the Deployment selector does not use: both must be rewritten.
  spec: { selector: { app: 'web', version: 'v1' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
});

const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

const writes = (emulator: KubeEmulator) => emulator.requests.filter((r) => r.method !== 'GET');

async function progressUntil(workloads: KubernetesWorkloads, name: string, done: (p: RolloutProgress) => boolean): Promise<RolloutProgress> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const progress = await workloads.getRolloutProgress('prod', name, 'app');
    if (done(progress)) return progress;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('rollout never reached the expected state');
}

describe('KubernetesWorkloads', () => {
  let emulator: KubeEmulator;
  let workloads: KubernetesWorkloads;

  beforeEach(async () => {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20, bearerToken: 'secret' });
    workloads = new KubernetesWorkloads(kubeConfigFor({ server: emulator.url, token: 'secret' }));
  });

  afterEach(async () => {
    await emulator.close();
  });

  describe('ensureCanary', () => {
    it('creates the canary Deployment with the new image, from the stable pod template', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Assess
      const canary = emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary');
      expect(canary.spec.replicas).toBe(3);
      expect(canary.spec.template.spec.containers.map((c: { name: string; image: string }) => `${c.name}=${c.image}`)).toEqual([
        `app=${NEW_IMAGE}`,
        'proxy=envoy:1.30',
      ]);
      expect(canary.metadata.annotations['fledge.dev/canary-of']).toBe('web');
      expect(canary.spec.template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    });

    it('labels canary pods so that neither the stable Service nor the stable Deployment selects them', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE, replicas: 1 });

      // Assess
      const canary = emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary');
      const podLabels = canary.spec.template.metadata.labels;
      expect(podLabels).toEqual({ app: 'web-canary', tier: 'frontend-canary', version: 'v1-canary', 'fledge.dev/role': 'canary' });
      expect(selects(stableService().spec.selector, podLabels)).toBe(false);
      expect(selects(stableDeployment().spec.selector.matchLabels, podLabels)).toBe(false);
      expect(selects(canary.spec.selector.matchLabels, podLabels)).toBe(true);
      expect(canary.spec.replicas).toBe(1);
    });

    it('creates the canary Service selecting the canary pods on the stable ports', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Assess
      const service = emulator.get('v1', 'Service', 'prod', 'web-canary');
      const podLabels = emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary').spec.template.metadata.labels;
      expect(selects(service.spec.selector, podLabels)).toBe(true);
      expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
      expect(selects(service.spec.selector, stableDeployment().spec.template.metadata.labels)).toBe(false);
    });

    it.each([
      ['NodePort', 'NodePort'],
      ['LoadBalancer', 'NodePort'],
      ['ClusterIP', 'ClusterIP'],
      [undefined, 'ClusterIP'],
    ])('gives a %s stable Service a %s canary Service: node ports for the ALB controller\'s instance targets, never a second load balancer', async (stableType, canaryType) => {
      // Prepare
      const stable = stableService();
      if (stableType) Object.assign(stable.spec, { type: stableType, ports: [{ ...stable.spec.ports[0], ...(stableType === 'ClusterIP' ? {} : { nodePort: 31080 }) }] });
      emulator.seed([stableDeployment(), stable]);

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Assess: the stable Service's node port is its own; the API server allocates the canary's
      const service = emulator.get('v1', 'Service', 'prod', 'web-canary');
      expect(service.spec.type).toBe(canaryType);
      expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    });

    it('keeps the node port the API server allocated to the canary Service when it updates it', async () => {
      // Prepare: a canary Service from an earlier rollout, its node port allocated
      const stable = stableService();
      Object.assign(stable.spec, { type: 'NodePort' });
      emulator.seed([stableDeployment(), stable]);
      await workloads.ensureCanary({ target, container: 'app', image: 'web:2.0' });
      const allocated = emulator.get('v1', 'Service', 'prod', 'web-canary');
      allocated.spec.ports[0].nodePort = 30123;
      allocated.metadata.annotations = { ...allocated.metadata.annotations, note: 'changed since' };
      const put = await fetch(`${emulator.url}/api/v1/namespaces/prod/services/web-canary`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: 'Bearer secret' },
        body: JSON.stringify(allocated),
      });
      expect(put.status).toBe(200);

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Assess
      expect(emulator.get('v1', 'Service', 'prod', 'web-canary').spec.ports[0].nodePort).toBe(30123);
    });

    it('is idempotent: a second run leaves the same objects', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });
      const deployment = emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary');
      const service = emulator.get('v1', 'Service', 'prod', 'web-canary');

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Assess
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary').spec).toEqual(deployment.spec);
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary').metadata.generation).toBe(deployment.metadata.generation);
      expect(emulator.get('v1', 'Service', 'prod', 'web-canary')).toEqual(service);
    });

    it('updates an existing canary to the newer image', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);
      await workloads.ensureCanary({ target, container: 'app', image: 'web:2.0' });

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: 'web:3.0' });

      // Assess
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary').spec.template.spec.containers[0].image).toBe('web:3.0');
    });

    it('retries a conflicting update of the canary by reading it again', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);
      await workloads.ensureCanary({ target, container: 'app', image: 'web:2.0' });
      emulator.faults.add({ method: 'PUT', pathIncludes: '/deployments/web-canary', status: 409, times: 2 });

      // Act
      await workloads.ensureCanary({ target, container: 'app', image: 'web:3.0' });

      // Assess
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary').spec.template.spec.containers[0].image).toBe('web:3.0');
    });

    it('gives up on endless conflicts with KubernetesTransientError', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);
      await workloads.ensureCanary({ target, container: 'app', image: 'web:2.0' });
      emulator.faults.add({ method: 'PUT', pathIncludes: '/deployments/web-canary', status: 409 });

      // Act
      const error = await workloads.ensureCanary({ target, container: 'app', image: 'web:3.0' }).catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(KubernetesTransientError);
      expect((error as Error).message).toMatch(/Deployment prod\/web-canary/);
    });

    it.each([
      ['the Deployment', [stableService()], /^Deployment prod\/web not found/],
      ['the Service', [stableDeployment()], /^Service prod\/web not found/],
    ])('names a missing stable object (%s) and creates nothing', async (_what, seeded, message) => {
      // Prepare
      emulator.seed(seeded);

      // Act
      const error = await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE }).catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(TargetNotFoundError);
      expect((error as Error).message).toMatch(message);
      expect(writes(emulator)).toEqual([]);
    });

    it('names a missing container, lists the ones there are, and creates nothing', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);

      // Act
      const error = await workloads.ensureCanary({ target, container: 'api', image: NEW_IMAGE }).catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(TargetNotFoundError);
      expect((error as Error).message).toBe('Container "api" not found in Deployment prod/web (containers: app, proxy)');
      expect(writes(emulator)).toEqual([]);
    });
  });

  describe('rollout progress', () => {
    it('follows the rollout of the canary until it is complete', async () => {
      // Prepare
      emulator.seed([stableDeployment(), stableService()]);
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Act
      const first = await workloads.getRolloutProgress('prod', 'web-canary', 'app');
      const done = await progressUntil(workloads, 'web-canary', (p) => p.complete);

      // Assess
      expect(first.complete).toBe(false);
      expect(done).toEqual({ complete: true, deadlineExceeded: false, replicas: 3, updatedReplicas: 3, availableReplicas: 3, image: NEW_IMAGE });
    });

    it('reports a stuck rollout as deadlineExceeded', async () => {
      // Prepare
      const stable = stableDeployment();
      Object.assign(stable.spec, { progressDeadlineSeconds: 3 });
      emulator.seed([stable, stableService()]);
      emulator.setRolloutBehavior('prod', 'web-canary', 'stuck');
      await workloads.ensureCanary({ target, container: 'app', image: NEW_IMAGE });

      // Act
      const stuck = await progressUntil(workloads, 'web-canary', (p) => p.deadlineExceeded);

      // Assess
      expect(stuck.complete).toBe(false);
      expect(stuck.updatedReplicas).toBeLessThan(3);
    });

    it('names a missing Deployment', async () => {
      // Act
      const error = await workloads.getRolloutProgress('prod', 'web', 'app').catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(TargetNotFoundError);
      expect((error as Error).message).toMatch(/^Deployment prod\/web not found/);
    });
  });

  describe('promotion, scaling and status', () => {
    it('sets one container image and the rollout follows', async () => {
      // Prepare
      emulator.seed([stableDeployment()]);

      // Act
      await workloads.setImage('prod', 'web', 'app', NEW_IMAGE);
      const done = await progressUntil(workloads, 'web', (p) => p.complete);

      // Assess
      expect(await workloads.getContainerImages('prod', 'web')).toEqual({ app: NEW_IMAGE, proxy: 'envoy:1.30' });
      expect(done.image).toBe(NEW_IMAGE);
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web').metadata.generation).toBe(2);
    });

    it('sets the image only on the Deployment it read: a patch that lands after a newer write changes nothing', async () => {
      // Prepare: the patch reaches the API server after the client gave up on it, and a rollback's write got there first
      emulator.seed([stableDeployment()]);
      const impatient = new KubernetesWorkloads(kubeConfigFor({ server: emulator.url, token: 'secret', timeoutMs: 150 }));
      const rollbackWrite = () =>
        fetch(`${emulator.url}/apis/apps/v1/namespaces/prod/deployments/web`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/merge-patch+json', authorization: 'Bearer secret' },
          body: JSON.stringify({ metadata: { annotations: { 'fledge.dev/status': '{"phase":"RolledBack"}' } } }),
        });
      let landed: () => void;
      const handled = new Promise<void>((resolve) => (landed = resolve));
      emulator.faults.add({ method: 'PATCH', pathIncludes: '/deployments/web', times: 1, delayMs: 300, onMatch: async () => {
        await rollbackWrite();
        setTimeout(landed, 50);
      } });

      // Act
      const error = await impatient.setImage('prod', 'web', 'app', NEW_IMAGE).catch((err: unknown) => err);
      await handled;

      // Assess
      expect(error).toBeInstanceOf(KubernetesTransientError);
      expect((await workloads.getContainerImages('prod', 'web')).app).toBe(stableDeployment().spec.template.spec.containers[0].image);
    });

    it('refuses to set the image of a container that does not exist', async () => {
      // Prepare
      emulator.seed([stableDeployment()]);

      // Act
      const error = await workloads.setImage('prod', 'web', 'api', NEW_IMAGE).catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(TargetNotFoundError);
      expect(writes(emulator)).toEqual([]);
    });

    it('scales a Deployment, and to zero completes its rollout', async () => {
      // Prepare
      emulator.seed([stableDeployment()]);

      // Act
      await workloads.scale('prod', 'web', 0);
      const done = await progressUntil(workloads, 'web', (p) => p.complete);

      // Assess
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web').spec.replicas).toBe(0);
      expect(done).toMatchObject({ replicas: 0, updatedReplicas: 0, availableReplicas: 0 });
    });

    it('treats scaling a missing Deployment as done', async () => {
      // Act
      const result = await workloads.scale('prod', 'web-canary', 0);

      // Assess
      expect(result).toBeUndefined();
    });

    it('writes the status annotation with a merge patch', async () => {
      // Prepare
      emulator.seed([stableDeployment()]);

      // Act
      await workloads.annotateStatus('prod', 'web', '{"phase":"Progressing","canaryWeight":20}');

      // Assess
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web').metadata.annotations).toEqual({
        'fledge.dev/status': '{"phase":"Progressing","canaryWeight":20}',
      });
      expect(writes(emulator).map((r) => r.contentType)).toEqual(['application/merge-patch+json']);
    });
  });

  describe('errors', () => {
    it('turns 5xx into KubernetesTransientError and 403 into KubernetesRequestError, saying what was done', async () => {
      // Prepare
      emulator.seed([stableDeployment()]);
      emulator.faults.add({ method: 'GET', status: 500, times: 1 });
      emulator.faults.add({ method: 'GET', status: 403, times: 1 });

      // Act
      const transient = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);
      const refused = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess
      expect(transient).toBeInstanceOf(KubernetesTransientError);
      expect((transient as Error).message).toMatch(/^read Deployment prod\/web failed: 500 InternalError/);
      expect(refused).toBeInstanceOf(KubernetesRequestError);
      expect((refused as Error).message).toMatch(/^read Deployment prod\/web failed: 403 Forbidden/);
    });

    it('turns a wrong token into KubernetesRequestError', async () => {
      // Prepare
      const unauthorized = new KubernetesWorkloads(kubeConfigFor({ server: emulator.url, token: 'wrong' }));

      // Act
      const error = await unauthorized.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(KubernetesRequestError);
      expect((error as Error).message).toMatch(/401/);
    });

    it('turns a reset connection into KubernetesTransientError', async () => {
      // Prepare
      emulator.faults.down(60_000);

      // Act
      const error = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(KubernetesTransientError);
      expect((error as Error).message).toMatch(/^read Deployment prod\/web failed: no answer from the API server/);
    });

    it('passes errors that are not from the client through unchanged', () => {
      // Prepare
      const bug = new TypeError('x is undefined');

      // Act
      const translated = kubernetesError(bug, 'read Deployment prod/web');

      // Assess
      expect(translated).toBe(bug);
    });

    it('keeps canary label values valid when the stable value is long', () => {
      // Act
      const value = canaryLabelValue('a'.repeat(63));

      // Assess
      expect(value).toHaveLength(63);
      expect(value.endsWith('-canary')).toBe(true);
    });
  });
});

describe('KubernetesEventRecorder', () => {
  let emulator: KubeEmulator;

  beforeEach(async () => {
    emulator = await startKubeEmulator();
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('records an Event on the target Deployment, as kubectl describe shows it', async () => {
    // Prepare
    emulator.seed([stableDeployment()]);
    const uid = emulator.get('apps/v1', 'Deployment', 'prod', 'web').metadata.uid;
    const now = new Date('2025-03-01T12:00:00Z');
    const recorder = new KubernetesEventRecorder(kubeConfigFor({ server: emulator.url }), { now: () => now });

    // Act
    await recorder.record(target, { type: 'Warning', reason: 'RolledBack', message: 'error-rate 18.7 > max 1' });

    // Assess
    const [event] = emulator.list('v1', 'Event', 'prod');
    expect(event.metadata.name).toMatch(/^web\.[0-9a-f]{16}$/);
    expect(event).toMatchObject({
      involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'prod', uid },
      type: 'Warning',
      reason: 'RolledBack',
      message: 'error-rate 18.7 > max 1',
      source: { component: 'fledge' },
      reportingComponent: 'fledge',
      count: 1,
    });
    expect(new Date(event.firstTimestamp)).toEqual(now);
    expect(new Date(event.lastTimestamp)).toEqual(now);
  });

  it('records each event under its own name', async () => {
    // Prepare
    emulator.seed([stableDeployment()]);
    const recorder = new KubernetesEventRecorder(kubeConfigFor({ server: emulator.url }));

    // Act
    await recorder.record(target, { type: 'Normal', reason: 'Progressing', message: 'weight 10' });
    await recorder.record(target, { type: 'Normal', reason: 'Progressing', message: 'weight 20' });

    // Assess
    expect(emulator.list('v1', 'Event', 'prod').map((e) => e.message).sort()).toEqual(['weight 10', 'weight 20']);
  });
});
