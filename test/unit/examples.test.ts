// The manifests users copy from examples/ and the demo's must load, and resolve, as they are.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadManifestFolder } from '../../lambdas/adapters/manifests/folder-manifests';
import { resolveMetrics } from '../../lambdas/core/rollout';
import { parseMetricsServer } from '../../lambdas/core/spec';
import { rolloutTarget } from '../../lambdas/core/targets';
import { weightSteps } from '../../lambdas/core/weights';

const folder = (path: string) => fileURLToPath(new URL(path, import.meta.url));

describe('examples/', () => {
  it('loads every Canary and MetricTemplate and resolves each metric', async () => {
    const { canaries, templates } = await loadManifestFolder(folder('../../examples/'));

    expect(canaries.map((c) => `${c.namespace}/${c.name}`).sort()).toEqual(['prod/api', 'prod/web']);
    expect(templates.map((t) => t.name).sort()).toEqual(['error-rate', 'queue-depth']);
    const server = parseMetricsServer('prometheus:http://prometheus.monitoring:9090', 'test');
    for (const canary of canaries) {
      const metrics = resolveMetrics(canary, templates, server, rolloutTarget(canary));
      expect(metrics.map((m) => m.name)).toEqual(canary.analysis.metrics.map((m) => m.name));
    }
  });

  it('reads the Fledge additions of api-canary-fledge.yaml', async () => {
    const { canaries } = await loadManifestFolder(folder('../../examples/'));
    const api = canaries.find((c) => c.name === 'api')!;

    expect(api.fledge).toEqual({
      imageRepository: 'team/api',
      tagPattern: 'v\\d+\\.\\d+\\.\\d+',
      container: 'api',
      cluster: undefined,
      route: 'api-public',
      failedCheckCounting: 'cumulative',
      metricsServer: 'prometheus:http://prometheus.monitoring:9090',
    });
    expect(weightSteps(api.analysis, api.router)).toEqual([5, 25, 50, 75]);
  });

  it('loads the demo manifests (the seed Canary unchanged, and the web error-rate template)', async () => {
    const { canaries, templates } = await loadManifestFolder(folder('../../local/demo/manifests/'));

    expect(canaries).toHaveLength(1);
    expect(weightSteps(canaries[0].analysis, canaries[0].router)).toEqual([10, 20, 30, 40, 50]);
    expect(templates[0].provider).toMatchObject({ type: 'web', jsonPath: '$.errorRate' });
  });
});
