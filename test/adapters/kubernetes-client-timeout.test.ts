// The per-request Kubernetes timeout: an API server that is slower than it surfaces as a retryable KubernetesTransientError, on every adapter and call shape.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_KUBE_TIMEOUT_MS, kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { KubernetesEventRecorder } from '../../lambdas/adapters/kubernetes/kubernetes-event-recorder';
import { KubernetesWorkloads } from '../../lambdas/adapters/kubernetes/kubernetes-workloads';
import { GatewayApiRouter } from '../../lambdas/adapters/routers/gateway-api-router';
import { ConfigurationError, KubernetesTransientError } from '../../lambdas/core/errors';
import { buildDeps } from '../../lambdas/handlers/composition';
import { configFromEnv } from '../../lambdas/handlers/config';
import type { RolloutTarget } from '../../lambdas/ports/target';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { WEB_TARGET } from '../helpers/target';

const TIMEOUT_MS = 150;
/** Far past the timeout: a request that waited for it would make the test visibly slow. */
const HANG_MS = 3_000;

const target: RolloutTarget = WEB_TARGET;

/** The error a call ends with, and how long it took to end. */
async function timed(call: () => Promise<unknown>): Promise<{ error: unknown; elapsedMs: number }> {
  const started = Date.now();
  try {
    await call();
    return { error: undefined, elapsedMs: Date.now() - started };
  } catch (error) {
    return { error, elapsedMs: Date.now() - started };
  }
}

describe('Kubernetes request timeout', () => {
  let emulator: KubeEmulator;

  beforeEach(async () => {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: 'web:1.0' }));
  });

  afterEach(async () => {
    await emulator.close();
  });

  const kubeConfig = () => kubeConfigFor({ server: emulator.url, timeoutMs: TIMEOUT_MS });

  it('gives up on a read the API server does not answer in time, as a KubernetesTransientError naming the call', async () => {
    emulator.faults.add({ method: 'GET', pathIncludes: '/deployments/web', delayMs: HANG_MS });
    const workloads = new KubernetesWorkloads(kubeConfig());

    const { error, elapsedMs } = await timed(() => workloads.getContainerImages('prod', 'web'));

    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).name).toBe('KubernetesTransientError');
    expect((error as Error).message).toBe('read Deployment prod/web failed: no answer from the API server within the request timeout');
    expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(elapsedMs).toBeLessThan(HANG_MS / 2);
  });

  it('times out a patch sent with per-call options (the Content-Type override keeps the timeout)', async () => {
    emulator.faults.add({ method: 'PATCH', pathIncludes: '/deployments/web', delayMs: HANG_MS });
    const workloads = new KubernetesWorkloads(kubeConfig());

    const { error, elapsedMs } = await timed(() => workloads.annotateStatus('prod', 'web', '{"phase":"Progressing"}'));

    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toMatch(/^annotate Deployment prod\/web with fledge\.dev\/status failed: no answer from the API server within the request timeout$/);
    expect(elapsedMs).toBeLessThan(HANG_MS / 2);
  });

  it('times out the route write of the Gateway API router', async () => {
    emulator.faults.add({ method: 'PUT', pathIncludes: '/httproutes/web', delayMs: HANG_MS });
    const router = new GatewayApiRouter(kubeConfig(), { backoffMs: 1 });

    const { error, elapsedMs } = await timed(() => router.setWeights(target, { primary: 90, canary: 10 }));

    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toBe('set weights 90/10 on HTTPRoute prod/web failed: no answer from the API server within the request timeout');
    expect(elapsedMs).toBeLessThan(HANG_MS / 2);
  });

  it('times out recording an Event', async () => {
    emulator.faults.add({ method: 'POST', pathIncludes: '/events', delayMs: HANG_MS });
    const recorder = new KubernetesEventRecorder(kubeConfig());

    const { error } = await timed(() => recorder.record(target, { type: 'Normal', reason: 'Test', message: 'hello' }));

    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect((error as Error).message).toContain('record event Test on Deployment prod/web failed: no answer from the API server within the request timeout');
  });

  it('lets a slow answer inside the timeout through, and times each request on its own', async () => {
    // Each request is 60% of the timeout: a timer shared across requests, or one that outlived its request, would fire.
    emulator.faults.add({ pathIncludes: '/httproutes/web', delayMs: TIMEOUT_MS * 0.6 });
    const router = new GatewayApiRouter(kubeConfig(), { backoffMs: 1 });

    await router.setWeights(target, { primary: 70, canary: 30 });
    const weights = await router.getWeights(target);

    expect(weights).toEqual({ primary: 70, canary: 30 });
  });

  it('is retried and succeeds once the API server answers in time again', async () => {
    emulator.faults.add({ method: 'GET', pathIncludes: '/deployments/web', delayMs: HANG_MS, times: 1 });
    const workloads = new KubernetesWorkloads(kubeConfig());

    const first = await timed(() => workloads.getContainerImages('prod', 'web'));
    const second = await workloads.getContainerImages('prod', 'web');

    expect(first.error).toBeInstanceOf(KubernetesTransientError);
    expect(second).toEqual({ web: 'web:1.0' });
  });

  it('is built by the composition root from FledgeConfig.kubeTimeoutMs', async () => {
    emulator.faults.add({ method: 'GET', pathIncludes: '/deployments/web', delayMs: HANG_MS });
    const deps = buildDeps({ manifestsDir: '/nonexistent', kubeServer: emulator.url, metricTimeoutMs: 1000, kubeTimeoutMs: TIMEOUT_MS });

    const { error, elapsedMs } = await timed(() => deps.workloads.getContainerImages('prod', 'web'));

    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect(elapsedMs).toBeLessThan(HANG_MS / 2);
  });

  it('times out an answer that stalls after its headers: the timeout runs to the last byte', async () => {
    // An API server that starts a Deployment's JSON and never finishes it.
    const stalled = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"');
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
      const workloads = new KubernetesWorkloads(kubeConfigFor({ server: url, timeoutMs: TIMEOUT_MS }));

      const { error, elapsedMs } = await timed(() => workloads.getContainerImages('prod', 'web'));

      expect(error).toBeInstanceOf(KubernetesTransientError);
      expect((error as Error).message).toBe('read Deployment prod/web failed: no answer from the API server within the request timeout');
      expect(elapsedMs).toBeLessThan(HANG_MS / 2);
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });

  it('refuses a timeout that is not a positive whole number of milliseconds', () => {
    expect(() => kubeConfigFor({ server: emulator.url, timeoutMs: 0 })).toThrow(
      'Kubernetes request timeout: expected a positive whole number of milliseconds, got 0',
    );
  });
});

describe('FLEDGE_KUBE_TIMEOUT_MS', () => {
  const env = { FLEDGE_KUBE_SERVER: 'https://example.eks.amazonaws.com', FLEDGE_MANIFESTS_DIR: '/manifests' };

  it('defaults to 10 seconds', () => {
    expect(configFromEnv(env).kubeTimeoutMs).toBe(10_000);
    expect(DEFAULT_KUBE_TIMEOUT_MS).toBe(10_000);
  });

  it('sets the per-request timeout in milliseconds', () => {
    expect(configFromEnv({ ...env, FLEDGE_KUBE_TIMEOUT_MS: '2500' }).kubeTimeoutMs).toBe(2500);
  });

  it.each(['0', '-1', '1.5', '10s', ''])('refuses %j, naming the variable and the value', (value) => {
    expect(() => configFromEnv({ ...env, FLEDGE_KUBE_TIMEOUT_MS: value })).toThrow(ConfigurationError);
    expect(() => configFromEnv({ ...env, FLEDGE_KUBE_TIMEOUT_MS: value })).toThrow(
      `environment variable FLEDGE_KUBE_TIMEOUT_MS: expected a positive whole number of milliseconds, got ${JSON.stringify(value)}`,
    );
  });
});
