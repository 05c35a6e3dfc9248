// Runs statemachine/rollout.asl.json itself on the alb router: the Ingress in the Kubernetes emulator, the canary's
// target group and its CloudWatch metrics in moto_server, the TargetGroupBindings as the AWS Load Balancer Controller writes them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { CloudWatchMetricData } from '../../lambdas/adapters/metrics/cloudwatch-metric-data';
import { AlbRouter } from '../../lambdas/adapters/routers/alb-router';
import { AlbTargetGroups } from '../../lambdas/adapters/routers/alb-target-groups';
import { buildDeps, metricProviders } from '../../lambdas/handlers/composition';
import type { HandlerDeps } from '../../lambdas/handlers/deps';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { runRollout } from '../../local/runner';
import { recordGetMetricData } from '../helpers/cloudwatch-requests';
import { motoElb } from '../helpers/moto-elb';
import { MOTO_CREDENTIALS, requireMotoServer, startMotoServer, type MotoServer } from '../helpers/moto-server';
import pushEvent from '../fixtures/ecr-push-event.json';

const REGION = 'us-east-1';
const STABLE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';
const PUSHED = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234';
const TIME_FACTOR = 0.0005; // a 2m bake lasts 60 ms
const MINUTE = 60_000;
const NETWORKING = 'networking.k8s.io/v1';
const PROD_STACK = { 'ingress.k8s.aws/stack-namespace': 'prod', 'ingress.k8s.aws/stack-name': 'web' };

/** The user's Ingress for the AWS Load Balancer Controller: `/` to the stable Service, `/admin` to another app. */
function userIngress() {
  return {
    apiVersion: NETWORKING,
    kind: 'Ingress',
    metadata: { name: 'web', namespace: 'prod', annotations: { 'alb.ingress.kubernetes.io/scheme': 'internet-facing', 'alb.ingress.kubernetes.io/target-type': 'ip' } },
    spec: {
      ingressClassName: 'alb',
      rules: [
        {
          host: 'web.example.com',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
              { path: '/admin', pathType: 'Prefix', backend: { service: { name: 'admin', port: { number: 8080 } } } },
            ],
          },
        },
      ],
    },
  };
}

/** A TargetGroupBinding as the controller writes it for a Service of the Ingress. */
function binding(name: string, service: string, targetGroupARN: string) {
  return {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name, namespace: 'prod', labels: PROD_STACK },
    spec: { serviceRef: { name: service, port: 80 }, targetGroupARN, targetType: 'ip' },
  };
}

/** Canary prod/web on the alb router, bakes of 2m (a 1m CloudWatch window with no lag, and a minute of rounding). */
function albCanaryYaml(metrics: string): string {
  return `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: { name: web, namespace: prod }
spec:
  provider: alb
  targetRef: { apiVersion: apps/v1, kind: Deployment, name: web }
  progressDeadlineSeconds: 60
  service: { port: 80 }
  analysis:
    interval: 2m
    threshold: 1
    stepWeights: [10, 50]
    metrics:
${metrics}
`;
}

/** MetricTemplate prod/<name>: one ALB metric's Sum over the canary target group, per minute, read without lag. */
function targetGroupSumYaml(name: string, metricName: string): string {
  const query = JSON.stringify([
    {
      Id: 'm',
      MetricStat: {
        Metric: {
          Namespace: 'AWS/ApplicationELB',
          MetricName: metricName,
          Dimensions: [{ Name: 'LoadBalancer', Value: '{{ loadBalancer }}' }, { Name: 'TargetGroup', Value: '{{ targetGroup }}' }],
        },
        Period: 60,
        Stat: 'Sum',
      },
    },
  ]);
  return `apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: { name: ${name}, namespace: prod }
spec:
  provider: { type: cloudwatch, region: ${REGION}, lagSeconds: 0 }
  query: '${query}'
`;
}

describe.skipIf(requireMotoServer().skip)('the rollout state machine on the alb router', () => {
  let moto: MotoServer;
  let cloudWatch: CloudWatchClient;
  let sent: Record<string, any>[];
  /** The ALB, the stable and canary target groups moto made, and the canary's CloudWatch dimension values. */
  const world = { loadBalancer: '', stable: '', canary: '', dimensions: [] as { Name: string; Value: string }[] };
  let emulator: KubeEmulator;
  let dir: string;

  beforeAll(async () => {
    moto = await startMotoServer();
    const elb = await motoElb(moto.url, REGION);
    world.loadBalancer = await elb.loadBalancer('k8s-prod-web-1a2b3c4d5e');
    world.stable = await elb.targetGroup('k8s-prod-web-0a1b2c3d4e');
    world.canary = await elb.targetGroup('k8s-prod-webcanar-5f6a7b8c9d');
    // The listener the controller makes for the Ingress once Fledge has added the canary's target group.
    await elb.forward(world.loadBalancer, 80, [[world.stable, 100], [world.canary, 0]]);
    world.dimensions = [
      { Name: 'LoadBalancer', Value: world.loadBalancer.split(':loadbalancer/')[1] },
      { Name: 'TargetGroup', Value: world.canary.split(':').slice(5).join(':') },
    ];
    cloudWatch = new CloudWatchClient({ region: REGION, endpoint: moto.url, credentials: MOTO_CREDENTIALS });
    sent = recordGetMetricData(cloudWatch);
  });

  afterAll(async () => {
    cloudWatch?.destroy();
    await moto?.stop();
  });

  beforeEach(async () => {
    // No moto reset: it would drop the ELB world. Each test puts its own metric, or reads none.
    sent.length = 0;
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    emulator.seed([
      ...seedObjects({ namespace: 'prod', name: 'web', stableImage: STABLE }),
      userIngress(),
      binding('k8s-prod-web-0a1b2c3d4e', 'web', world.stable),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'fledge-alb-'));
  });

  afterEach(async () => {
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** `value` for `metricName` on the canary target group, once in each minute from 10 minutes back to 3 ahead: any 1-minute window holds one. */
  async function putCanaryMetric(metricName: string, value: number): Promise<void> {
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const minutes = Array.from({ length: 14 }, (_, i) => minute + (i - 10) * MINUTE + 15_000);
    await cloudWatch.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/ApplicationELB',
        MetricData: minutes.map((time) => ({ MetricName: metricName, Dimensions: world.dimensions, Value: value, Timestamp: new Date(time), Unit: 'Count' })),
      }),
    );
  }

  /** The deployment's handlers, with the AWS clients pointed at moto. */
  async function deps(files: Record<string, string>): Promise<HandlerDeps> {
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    const base = buildDeps({ manifestsDir: dir, kubeServer: emulator.url, metricTimeoutMs: 5000 });
    const kubeConfig = kubeConfigFor({ server: emulator.url });
    const alb = new AlbRouter(kubeConfig, {
      backoffMs: 1,
      targetGroups: new AlbTargetGroups(kubeConfig, { clientConfig: { endpoint: moto.url, credentials: MOTO_CREDENTIALS }, region: REGION }),
    });
    return {
      ...base,
      router: (type) => (type === 'alb' ? alb : base.router(type)),
      metricProvider: metricProviders(5000, { cloudWatch: new CloudWatchMetricData({ createClient: () => cloudWatch }) }),
    };
  }

  /** One rollout of the ECR push through the real state machine, with these manifests. */
  async function rollout(files: Record<string, string>) {
    return runRollout({ deps: await deps(files), event: pushEvent, timeFactor: TIME_FACTOR, retryIntervalMs: 10 });
  }

  /** The GetMetricData calls of the analyses, not Initialize's check that CloudWatch answers. */
  const analyses = () => sent.filter((body) => body.MetricDataQueries[0].MetricStat?.Metric.Namespace !== 'Fledge/CheckOnline');
  const ingress = () => emulator.get(NETWORKING, 'Ingress', 'prod', 'web');
  const stableImage = () => emulator.get('apps/v1', 'Deployment', 'prod', 'web')?.spec.template.spec.containers[0].image;
  const canaryReplicas = () => emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary')?.spec.replicas;

  it('promotes on the canary target group\'s own metrics, and leaves the Ingress as the user wrote it', async () => {
    // Prepare: the controller has bound the canary Service's target group; the canary serves requests
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', world.canary)]);
    await putCanaryMetric('RequestCount', 120);
    const before = ingress();
    const metrics = '      - { name: requests, templateRef: { name: canary-requests }, interval: 1m, thresholdRange: { min: 1 } }';

    // Act
    const result = await rollout({ 'canary.yaml': albCanaryYaml(metrics), 'requests.yaml': targetGroupSumYaml('canary-requests', 'RequestCount') });

    // Assess
    expect(result.outcome).toBe('promoted');
    expect(result.status?.weights).toEqual([10, 50]);
    expect(result.status?.lastAnalysis?.map((r) => [r.metric, r.value, r.verdict])).toEqual([['requests', 120, 'pass']]);
    expect(stableImage()).toBe(PUSHED);
    expect(canaryReplicas()).toBe(0);
    expect(ingress().spec).toEqual(before.spec);
    expect(ingress().metadata.annotations).toEqual(before.metadata.annotations);
    // Each analysis asked CloudWatch for the canary target group on its load balancer.
    expect(analyses()).toHaveLength(2);
    for (const body of analyses()) expect(body.MetricDataQueries[0].MetricStat.Metric.Dimensions).toEqual(world.dimensions);
  });

  it('rolls back in the first bad interval on the canary target group\'s 5xx, and routes everything to stable', async () => {
    // Prepare
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', world.canary)]);
    await putCanaryMetric('HTTPCode_Target_5XX_Count', 40);
    const before = ingress();
    const metrics = '      - { name: canary-5xx, templateRef: { name: canary-5xx }, interval: 1m, thresholdRange: { max: 5 } }';

    // Act
    const result = await rollout({ 'canary.yaml': albCanaryYaml(metrics), '5xx.yaml': targetGroupSumYaml('canary-5xx', 'HTTPCode_Target_5XX_Count') });

    // Assess
    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toBe('canary-5xx 40 > max 5 (1/1 consecutive failed checks at canary weight 10%)');
    expect(result.status?.weights).toEqual([10]);
    expect(stableImage()).toBe(STABLE);
    expect(ingress().spec).toEqual(before.spec);
    expect(ingress().metadata.annotations).toEqual(before.metadata.annotations);
  });

  it('fails the check, naming what is missing, while no TargetGroupBinding names the canary Service', async () => {
    // Prepare: the controller has not made the canary's target group
    const metrics = '      - { name: requests, templateRef: { name: canary-requests }, interval: 1m, thresholdRange: { min: 1 } }';

    // Act
    const result = await rollout({ 'canary.yaml': albCanaryYaml(metrics), 'requests.yaml': targetGroupSumYaml('canary-requests', 'RequestCount') });

    // Assess
    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toMatch(/^requests: provider error: alb router: No TargetGroupBinding for Service prod\/web-canary port 80 in the Ingress's stack/);
    expect(analyses()).toEqual([]);
    expect(ingress().spec).toEqual(userIngress().spec);
  });

  it('asks CloudWatch for the builtins on the canary target group (moto cannot evaluate their metric math)', async () => {
    // Prepare
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', world.canary)]);
    const metrics = [
      '      - { name: request-success-rate, interval: 1m, thresholdRange: { min: 99 } }',
      '      - { name: request-duration, interval: 1m, thresholdRange: { max: 500 } }',
    ].join('\n');

    // Act: the builtins' window ends the default 60 s lag back, so the bake is 3m
    const result = await rollout({ 'canary.yaml': albCanaryYaml(metrics).replace('interval: 2m', 'interval: 3m') });

    // Assess: one GetMetricData for both metrics, every MetricStat on the canary's target group, each builtin's expression
    expect(analyses()).toHaveLength(1);
    const queries = analyses()[0].MetricDataQueries as { Id: string; Expression?: string; Period?: number; MetricStat?: any }[];
    const stats = queries.filter((query) => query.MetricStat);
    expect(stats.map((query) => [query.MetricStat.Metric.MetricName, query.MetricStat.Stat, query.MetricStat.Period])).toEqual([
      ['RequestCount', 'Sum', 60],
      ['HTTPCode_Target_5XX_Count', 'Sum', 60],
      ['TargetResponseTime', 'p99', 60],
    ]);
    for (const query of stats) expect(query.MetricStat.Metric.Dimensions).toEqual(world.dimensions);
    expect(queries.filter((query) => query.Expression).map((query) => query.Expression!.replace(/t\d+_/g, ''))).toEqual([
      '100 - 100 * FILL(errors, 0) / requests',
      'seconds * 1000',
    ]);
    // With no value for them from moto, the first analysis fails and everything goes back to stable.
    expect(result.outcome).toBe('rolled_back');
    // The execution view shows each query whole, the canary's target group in it.
    expect(result.status?.lastAnalysis?.map((record) => [record.metric, record.query.includes(`"Value":"${world.dimensions[1].Value}"`)])).toEqual([
      ['request-success-rate', true],
      ['request-duration', true],
    ]);
    expect(ingress().spec).toEqual(userIngress().spec);
  });
  it('rejects, before writing anything, an Ingress whose action forwards to a target group Fledge cannot weigh', async () => {
    // Prepare: the stable Service's paths go through an action that also forwards to a target group outside Kubernetes
    const legacy = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/legacy/0123456789abcdef';
    await fetch(`${emulator.url}/apis/networking.k8s.io/v1/namespaces/prod/ingresses/web`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({
        metadata: {
          annotations: {
            'alb.ingress.kubernetes.io/actions.web': JSON.stringify({
              type: 'forward',
              forwardConfig: { targetGroups: [{ serviceName: 'web', servicePort: 80, weight: 90 }, { targetGroupARN: legacy, weight: 10 }] },
            }),
          },
        },
        spec: { rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'use-annotation' } } } }] } }] },
      }),
    });
    emulator.requests.length = 0;
    const metrics = '      - { name: requests, templateRef: { name: canary-requests }, interval: 1m, thresholdRange: { min: 1 } }';

    // Act
    const result = await rollout({ 'canary.yaml': albCanaryYaml(metrics), 'requests.yaml': targetGroupSumYaml('canary-requests', 'RequestCount') });

    // Assess
    expect(result.outcome).toBe('rejected');
    expect(result.error).toBe('TargetNotFoundError');
    expect(result.cause).toContain(`targetGroupARN ${legacy}`);
    expect(emulator.requests.filter((request) => request.method !== 'GET')).toEqual([]);
    expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary')).toBeUndefined();
  });
});
