// Runs statemachine/rollout.asl.json itself (aws-local-stepfunctions) with the real handlers, the Kubernetes
// emulator over HTTP and a real HTTP metrics endpoint: each test is one rollout rule seen from outside.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDeps } from '../../lambdas/handlers/composition';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator } from '../../local/kube-emulator';
import type { KubeEmulator } from '../../local/kube-emulator';
import { runRollout } from '../../local/runner';
import type { EventLog } from '../../local/runner';
import { canaryYaml, errorRateTemplateYaml } from '../helpers/manifests';
import { startMetricServer } from '../helpers/metric-server';
import type { MetricServer, Script } from '../helpers/metric-server';
import { startWebhookServer } from '../helpers/webhook-server';
import type { WebhookServer } from '../helpers/webhook-server';
import pushEvent from '../fixtures/ecr-push-event.json';

const STABLE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';
const PUSHED = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234';
const TIME_FACTOR = 0.0005; // a 1m bake lasts 30 ms

interface CanaryOptions {
  readonly analysis?: string;
  readonly fledge?: string;
  readonly webhooks?: string;
}

const DEFAULT_ANALYSIS = `    interval: 1m
    threshold: 3
    stepWeight: 10
    maxWeight: 30`;

describe('the rollout state machine', () => {
  let emulator: KubeEmulator;
  let metrics: MetricServer | undefined;
  let hooks: WebhookServer;
  let dir: string;

  beforeEach(async () => {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: STABLE }));
    dir = await mkdtemp(join(tmpdir(), 'fledge-sm-'));
    hooks = await startWebhookServer();
  });

  afterEach(async () => {
    await metrics?.close();
    metrics = undefined;
    await hooks.close();
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function prepare(script: Script, canary: CanaryOptions = {}) {
    metrics = await startMetricServer(script);
    await writeFile(join(dir, 'canary.yaml'), canaryYaml({ ...canary, analysis: canary.analysis ?? DEFAULT_ANALYSIS }));
    await writeFile(join(dir, 'error-rate.yaml'), errorRateTemplateYaml(metrics.url));
    return buildDeps({ manifestsDir: dir, kubeServer: emulator.url, metricTimeoutMs: 2000 });
  }

  async function run(script: Script, canary: CanaryOptions = {}, event: unknown = pushEvent) {
    const deps = await prepare(script, canary);
    return runRollout({ deps, event, timeFactor: TIME_FACTOR, retryIntervalMs: 10 });
  }

  const stableImage = () => emulator.get('apps/v1', 'Deployment', 'prod', 'web')?.spec.template.spec.containers[0].image;
  const canaryReplicas = () => emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary')?.spec.replicas;
  const backendRefs = () =>
    emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'prod', 'web')?.spec.rules[0].backendRefs as { name: string; weight?: number }[];
  const events = () => emulator.list('v1', 'Event', 'prod').map((e) => `${e.type} ${e.reason}: ${e.message}`);
  const writes = () => emulator.requests.filter((r) => r.method !== 'GET');

  it('promotes after the last step passes: stable gets the image, 100% stable, canary at zero', async () => {
    const result = await run({ 'error-rate': [0.2] });

    expect(result.outcome).toBe('promoted');
    expect(result.status?.weights).toEqual([10, 20, 30]);
    expect(result.statesEntered.filter((s) => s === 'AnalyzeMetrics')).toHaveLength(3);
    expect(result.statesEntered.slice(-4)).toEqual(['WaitForStableRollout', 'IsStableRolledOut', 'FinalizePromotion', 'Promoted']);
    expect(stableImage()).toBe(PUSHED);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    expect(canaryReplicas()).toBe(0);
    expect(events().some((e) => e.startsWith('Normal Promoted'))).toBe(true);
  });

  it('promotes without shifting traffic or analysing once the canary is ready, with spec.skipAnalysis (Flagger\'s)', async () => {
    // Prepare: the Canary as the helper writes it, with skipAnalysis under spec
    const deps = await prepare({ 'error-rate': [50] });
    const text = canaryYaml({ analysis: DEFAULT_ANALYSIS }).replace('  progressDeadlineSeconds: 60\n', '  progressDeadlineSeconds: 60\n  skipAnalysis: true\n');
    await writeFile(join(dir, 'canary.yaml'), text);

    // Act
    const result = await runRollout({ deps, event: pushEvent, timeFactor: TIME_FACTOR, retryIntervalMs: 10 });

    // Assess
    expect(result.outcome).toBe('promoted');
    expect(result.statesEntered).not.toContain('ShiftWeight');
    expect(result.statesEntered).not.toContain('AnalyzeMetrics');
    const ready = result.statesEntered.lastIndexOf('IsCanaryReady');
    expect(result.statesEntered.slice(ready, ready + 2)).toEqual(['IsCanaryReady', 'Promote']);
    expect(result.statesEntered.slice(-2)).toEqual(['FinalizePromotion', 'Promoted']);
    expect(metrics!.calls['error-rate'] ?? 0).toBe(0);
    expect(result.status?.weights).toEqual([]);
    expect(stableImage()).toBe(PUSHED);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    expect(canaryReplicas()).toBe(0);
    expect(events()).toContain(`Normal AnalysisSkipped: analysis skipped (spec.skipAnalysis): promoting ${PUSHED} without shifting traffic`);
  });

  it('runs blue/green with iterations: analyses with no live traffic on the canary, one with all of it, then promotes', async () => {
    const result = await run({ 'error-rate': [0.2] }, { analysis: '    interval: 1m\n    threshold: 1\n    iterations: 2' });

    expect(result.outcome).toBe('promoted');
    expect(result.statesEntered.filter((s) => s === 'AnalyzeMetrics')).toHaveLength(3);
    expect(result.status?.weights).toEqual([0, 100]);
    expect(stableImage()).toBe(PUSHED);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
  });

  it('runs blue/green on the kubernetes router without touching any route, then promotes', async () => {
    const route = emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'prod', 'web');
    const canary = canaryYaml({ analysis: '    interval: 1m\n    threshold: 1\n    iterations: 2' }).replace('spec:\n', 'spec:\n  provider: kubernetes\n');
    const deps = await prepare({ 'error-rate': [0.2] });
    await writeFile(join(dir, 'canary.yaml'), canary);

    const result = await runRollout({ deps, event: pushEvent, timeFactor: TIME_FACTOR, retryIntervalMs: 10 });

    expect(result.outcome).toBe('promoted');
    expect(result.statesEntered.filter((s) => s === 'AnalyzeMetrics')).toHaveLength(2);
    expect(result.status?.weights).toEqual([0]);
    expect(stableImage()).toBe(PUSHED);
    expect(emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'prod', 'web')).toEqual(route);
    expect(writes().filter((r) => r.path.includes('httproutes'))).toEqual([]);
  });

  it('rolls blue/green back in an iteration, before any live traffic reaches the canary', async () => {
    const result = await run({ 'error-rate': [0.2, 7] }, { analysis: '    interval: 1m\n    threshold: 1\n    iterations: 3' });

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toBe('error-rate 7 > max 1 (1/1 consecutive failed checks at canary weight 0%)');
    expect(result.status?.weights).toEqual([0]);
    expect(stableImage()).toBe(STABLE);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
  });

  it('rolls back on the check that reaches the threshold, not one later, naming metric, value, bound and weight', async () => {
    const result = await run({ 'error-rate': [0.5, 18.7] });

    expect(result.outcome).toBe('rolled_back');
    expect(metrics!.calls['error-rate']).toBe(4);
    expect(result.status?.weights).toEqual([10, 20]);
    expect(result.status?.failedChecks).toBe(3);
    expect(result.cause).toBe('error-rate 18.7 > max 1 (3/3 consecutive failed checks at canary weight 20%)');
    expect(stableImage()).toBe(STABLE);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    expect(canaryReplicas()).toBe(0);
    expect(events()).toContain('Warning RolledBack: error-rate 18.7 > max 1 (3/3 consecutive failed checks at canary weight 20%)');
  });

  it('holds the weight on a failed check and resets the count on a pass (consecutive counting)', async () => {
    const result = await run({ 'error-rate': [5, 5, 0.5, 5, 5, 0.5, 0.5] });

    expect(result.outcome).toBe('promoted');
    expect(result.status?.weights).toEqual([10, 20, 30]);
    expect(metrics!.calls['error-rate']).toBe(7);
  });

  it('counts failed checks cumulatively when spec.fledge.failedCheckCounting is cumulative', async () => {
    const result = await run({ 'error-rate': [5, 5, 0.5, 5] }, { fledge: '    failedCheckCounting: cumulative' });

    expect(result.outcome).toBe('rolled_back');
    expect(metrics!.calls['error-rate']).toBe(4);
    expect(result.cause).toBe('error-rate 5 > max 1 (3/3 cumulative failed checks at canary weight 20%)');
  });

  it('treats no data as a failed check: no traffic is not health', async () => {
    const result = await run(
      { 'error-rate': [null] },
      { analysis: '    interval: 1m\n    threshold: 1\n    stepWeights: [10, 50]' },
    );

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toBe('error-rate: no data (1/1 consecutive failed checks at canary weight 10%)');
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
  });

  it('treats a metrics backend error as a failed check and says what the backend answered', async () => {
    const result = await run(
      { 'error-rate': ['error'] },
      { analysis: '    interval: 1m\n    threshold: 1\n    stepWeights: [10, 50]' },
    );

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toMatch(/^error-rate: provider error: .*500/);
  });

  it('ignores a push no Canary claims, and says why, without touching the cluster', async () => {
    const result = await run({ 'error-rate': [0] }, { fledge: "    tagPattern: 'v\\d+'" });

    expect(result.outcome).toBe('ignored');
    expect(result.status?.reason).toContain('no Canary claims web:1.4.2');
    expect(writes()).toEqual([]);
  });

  it('rejects a rollout whose HTTPRoute does not exist before writing anything', async () => {
    const route = emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'prod', 'web');
    await fetch(`${emulator.url}/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/web`, { method: 'DELETE' });
    emulator.requests.length = 0;

    const result = await run({ 'error-rate': [0] });

    expect(route).toBeDefined();
    expect(result.outcome).toBe('rejected');
    expect(result.error).toBe('TargetNotFoundError');
    expect(result.cause).toContain('HTTPRoute prod/web not found');
    expect(writes()).toEqual([]);
    expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web-canary')).toBeUndefined();
  });

  it('rejects a rollout whose stable Service does not exist before writing anything', async () => {
    await fetch(`${emulator.url}/api/v1/namespaces/prod/services/web`, { method: 'DELETE' });
    emulator.requests.length = 0;

    const result = await run({ 'error-rate': [0] });

    expect(result.outcome).toBe('rejected');
    expect(result.error).toBe('TargetNotFoundError');
    expect(result.cause).toContain('Service prod/web not found');
    expect(writes()).toEqual([]);
  });

  it('rejects an invalid Canary with the path and the value, before writing anything', async () => {
    const result = await run({ 'error-rate': [0] }, { analysis: '    interval: 1m\n    stepWeight: -5' });

    expect(result.outcome).toBe('rejected');
    expect(result.error).toBe('SpecValidationError');
    expect(result.cause).toContain('spec.analysis.stepWeight: expected a number between 1 and 100, got -5');
    expect(writes()).toEqual([]);
  });

  it('rolls back when the canary never becomes ready', async () => {
    emulator.setRolloutBehavior('prod', 'web-canary', 'stuck');

    const result = await run({ 'error-rate': [0] });

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toMatch(/^CanaryNotReadyError: canary Deployment prod\/web-canary is not ready/);
    expect(result.statesEntered).not.toContain('ShiftWeight');
    expect(canaryReplicas()).toBe(0);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
  });

  it('restores the stable image and routes to it when the promoted image never rolls out', async () => {
    emulator.setRolloutBehavior('prod', 'web', 'stuck');

    const result = await run({ 'error-rate': [0] });

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toMatch(/^PromotionFailedError: Deployment prod\/web did not roll out/);
    expect(stableImage()).toBe(STABLE);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    expect(canaryReplicas()).toBe(0);
  });

  const hook = (name: string, type: string, path: string) =>
    `      - name: ${name}\n        type: ${type}\n        url: ${hooks.url}${path}\n        timeout: 5s\n        metadata:\n          cmd: "hey -z 1m http://web-canary.prod/"`;

  it('calls rollout webhooks at the start of every bake and post-rollout ones after promotion, with Flagger\'s payload', async () => {
    const result = await run(
      { 'error-rate': [0] },
      { webhooks: [hook('load-test', 'rollout', '/ok'), hook('notify', 'post-rollout', '/ok')].join('\n') },
    );

    expect(result.outcome).toBe('promoted');
    const metadata = { cmd: 'hey -z 1m http://web-canary.prod/' };
    expect(hooks.calls).toEqual([
      { path: '/ok', body: { name: 'web', namespace: 'prod', phase: 'Progressing', metadata } },
      { path: '/ok', body: { name: 'web', namespace: 'prod', phase: 'Progressing', metadata } },
      { path: '/ok', body: { name: 'web', namespace: 'prod', phase: 'Progressing', metadata } },
      { path: '/ok', body: { name: 'web', namespace: 'prod', phase: 'Succeeded', metadata } },
    ]);
  });

  it('counts a failing rollout webhook as a failed check, like a metric', async () => {
    const result = await run(
      { 'error-rate': [0] },
      {
        analysis: '    interval: 1m\n    threshold: 2\n    stepWeights: [10, 50]',
        webhooks: hook('load-test', 'rollout', '/fail'),
      },
    );

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toBe(
      `load-test webhook failed: ${hooks.url}/fail answered HTTP 500: no load for you (2/2 consecutive failed checks at canary weight 10%)`,
    );
  });

  it('rolls back before any traffic moves when a pre-rollout webhook fails', async () => {
    const result = await run({ 'error-rate': [0] }, { webhooks: hook('smoke', 'pre-rollout', '/fail') });

    expect(result.outcome).toBe('rolled_back');
    expect(result.cause).toBe(`WebhookError: pre-rollout webhook smoke failed: ${hooks.url}/fail answered HTTP 500: no load for you`);
    expect(result.statesEntered).not.toContain('Bake');
    expect(result.status?.weights).toEqual([]);
    expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
  });

  it('rejects a webhook type it does not run instead of skipping it', async () => {
    const result = await run({ 'error-rate': [0] }, { webhooks: hook('approve', 'confirm-deletion', '/ok') });

    expect(result.outcome).toBe('rejected');
    expect(result.cause).toContain('spec.analysis.webhooks[0].type: expected a webhook type Fledge runs (confirm-rollout, pre-rollout, rollout');
    expect(result.cause).toContain('got "confirm-deletion"');
    expect(writes()).toEqual([]);
  });

  it('posts each event to event webhooks with Flagger\'s payload, and goes on when one fails', async () => {
    const result = await run({ 'error-rate': [0] }, { webhooks: [hook('chat', 'event', '/events'), hook('broken', 'event', '/fail')].join('\n') });

    expect(result.outcome).toBe('promoted');
    const posted = hooks.calls.filter((c) => c.path === '/events').map((c) => c.body as { name: string; namespace: string; phase: string; metadata: Record<string, string> });
    expect(posted.map((p) => [p.phase, p.metadata.eventType, p.metadata.eventMessage.split(' ')[0]])).toEqual([
      ['Progressing', 'Normal', 'rolling'],
      ['Promoting', 'Normal', 'promoting'],
      ['Promoted', 'Normal', 'promoted'],
    ]);
    expect(posted[2]).toEqual({
      name: 'web',
      namespace: 'prod',
      phase: 'Promoted',
      metadata: {
        cmd: 'hey -z 1m http://web-canary.prod/',
        eventMessage: expect.stringMatching(/^promoted .* after 3 steps \(10, 20, 30%\)$/),
        eventType: 'Normal',
        timestamp: expect.stringMatching(/^\d{13}$/),
      },
    });
    expect(hooks.calls.filter((c) => c.path === '/fail')).toHaveLength(3);
  });

  describe('gates (confirm-* webhooks) and rollback webhooks', () => {
    const gateStates = (states: string[]) => states.filter((s) => ['ConfirmGate', 'WaitAtGate', 'ShiftWeight', 'Promote'].includes(s));

    it('holds every traffic move until confirm-rollout approves, asking again each interval', async () => {
      hooks.script('/approve', [403, 403, 200]);

      const result = await run({ 'error-rate': [0] }, { webhooks: hook('approve', 'confirm-rollout', '/approve') });

      expect(result.outcome).toBe('promoted');
      expect(gateStates(result.statesEntered).slice(0, 6)).toEqual(['ConfirmGate', 'WaitAtGate', 'ConfirmGate', 'WaitAtGate', 'ConfirmGate', 'ShiftWeight']);
      expect(hooks.calls.filter((c) => c.path === '/approve')).toHaveLength(3);
      expect(events()).toContain(`Warning WaitingForApproval: halted until approved: confirm-rollout webhook approve: ${hooks.url}/approve answered HTTP 403: not yet`);
      expect(events()).toContain('Normal Approved: confirm-rollout webhooks approved');
    });

    it('asks confirm-traffic-increase before each raise of the weight, and confirm-promotion before promoting', async () => {
      hooks.script('/promote', [403, 200]);

      const result = await run(
        { 'error-rate': [0] },
        { webhooks: [hook('more', 'confirm-traffic-increase', '/more'), hook('ship', 'confirm-promotion', '/promote')].join('\n') },
      );

      expect(result.outcome).toBe('promoted');
      // The first ask finds no confirm-rollout hook: the gate is open.
      expect(gateStates(result.statesEntered)).toEqual([
        'ConfirmGate', 'ShiftWeight', 'ConfirmGate', 'ShiftWeight', 'ConfirmGate', 'ShiftWeight', 'ConfirmGate', 'WaitAtGate', 'ConfirmGate', 'Promote',
      ]);
      expect(hooks.calls.filter((c) => c.path === '/more')).toHaveLength(2);
      expect(hooks.calls.filter((c) => c.path === '/promote')).toHaveLength(2);
      expect(stableImage()).toBe(PUSHED);
    });

    it('rolls back when a rollback webhook answers 2xx during the analysis, saying which', async () => {
      hooks.script('/abort', [404, 200]);

      const result = await run({ 'error-rate': [0] }, { webhooks: hook('big-red-button', 'rollback', '/abort') });

      expect(result.outcome).toBe('rolled_back');
      expect(result.cause).toBe('rollback webhook big-red-button asked for a rollback at canary weight 20%');
      expect(result.status?.weights).toEqual([10, 20]);
      expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    });

    it('rolls back while waiting at a gate when a rollback webhook asks for it', async () => {
      hooks.script('/approve', [403]);
      // No request during the three analyses nor at the first ask of the gate; then one, while it waits.
      hooks.script('/abort', [404, 404, 404, 404, 200]);

      const result = await run(
        { 'error-rate': [0] },
        { webhooks: [hook('approve', 'confirm-promotion', '/approve'), hook('abort', 'rollback', '/abort')].join('\n') },
      );

      expect(result.outcome).toBe('rolled_back');
      expect(result.cause).toBe('RollbackRequestedError: rollback webhook abort asked for a rollback');
      expect(stableImage()).toBe(STABLE);
      expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
    });
  });

  it('ends in RollbackFailed, and says so on a Warning event, when the rollback cannot restore the route', async () => {
    const deps = await prepare({ 'error-rate': [5] }, { analysis: '    interval: 1m\n    threshold: 1\n    stepWeights: [10, 50]' });

    const result = await runRollout({
      deps,
      event: pushEvent,
      timeFactor: TIME_FACTOR,
      retryIntervalMs: 5,
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state.name === 'Rollback') {
          emulator.faults.add({ method: 'PUT', pathIncludes: '/httproutes/web', status: 500 });
        }
      },
    });

    expect(result.outcome).toBe('rollback_failed');
    expect(result.statesEntered.slice(-3)).toEqual(['Rollback', 'NotifyRollbackFailed', 'RollbackFailed']);
    const warning = events().find((e) => e.startsWith('Warning RollbackFailed:'));
    expect(warning).toContain('Fledge could not roll back prod/web: traffic may still be split between stable and canary.');
    expect(warning).toContain('last canary weight 10%');
    expect(warning).toContain('The rollout had stopped on: error-rate 5 > max 1 (1/1 consecutive failed checks at canary weight 10%)');
  });

  describe('one rollout per target', () => {
    const SLOW_BAKE = 0.004; // a 1m bake lasts 240 ms: room to act mid-rollout
    const otherDigest = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    const pushOf = (digest: string, tag: string) => ({ ...pushEvent, detail: { ...pushEvent.detail, 'image-digest': digest, 'image-tag': tag } });

    /** Resolves when the first execution has shifted to `weight`. */
    function atWeight(weight: number): { onEvent: (event: EventLog) => void; reached: Promise<void> } {
      let reach!: () => void;
      const reached = new Promise<void>((resolve) => (reach = resolve));
      return {
        reached,
        onEvent: (event) => {
          const output = event.type === 'StateExited' ? (event.state.output as { status?: { weight?: number } }) : undefined;
          if (event.type === 'StateExited' && event.state.name === 'ShiftWeight' && output?.status?.weight === weight) reach();
        },
      };
    }

    it('a newer push supersedes the running rollout: the old one stops, traffic goes back to stable, the new one starts over', async () => {
      const deps = await prepare({ 'error-rate': [0.1] });
      const first = atWeight(20);
      const older = runRollout({ deps, event: pushEvent, timeFactor: SLOW_BAKE, retryIntervalMs: 10, executionName: 'older', onEvent: first.onEvent });
      await first.reached;

      const newer = await runRollout({ deps, event: pushOf(otherDigest, '1.4.3'), timeFactor: SLOW_BAKE, retryIntervalMs: 10, executionName: 'newer' });
      const old = await older;

      expect(old.outcome).toBe('superseded');
      expect(old.status?.reason).toContain('superseded by execution arn:aws:states:us-east-1:123456789012:execution:fledge-rollout:newer');
      expect(newer.outcome).toBe('promoted');
      expect(newer.status?.weights).toEqual([10, 20, 30]);
      expect(stableImage()).toBe(`123456789012.dkr.ecr.us-west-2.amazonaws.com/web@${otherDigest}`);
      expect(events().some((e) => e.startsWith('Normal TrafficRestored: moved 20% canary traffic back to stable'))).toBe(true);
      expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
      expect(emulator.get('apps/v1', 'Deployment', 'prod', 'web')?.metadata.annotations?.['fledge.dev/lock']).toBeUndefined();
    });

    it('starts one rollout for two pushes of the same digest (ECR sends one event per tag)', async () => {
      const deps = await prepare({ 'error-rate': [0.1] });
      const first = atWeight(10);
      const original = runRollout({ deps, event: pushEvent, timeFactor: SLOW_BAKE, retryIntervalMs: 10, executionName: 'by-tag', onEvent: first.onEvent });
      await first.reached;

      const retag = await runRollout({ deps, event: pushOf(pushEvent.detail['image-digest'], 'latest'), timeFactor: SLOW_BAKE, executionName: 'by-latest' });

      expect(retag.outcome).toBe('ignored');
      expect(retag.status?.reason).toContain('execution arn:aws:states:us-east-1:123456789012:execution:fledge-rollout:by-tag is already rolling out');
      expect((await original).outcome).toBe('promoted');
    });

    it('re-asserts route weights someone edited mid-rollout, and says so in a Warning event', async () => {
      const deps = await prepare({ 'error-rate': [0.1] });
      const first = atWeight(10);
      const rollout = runRollout({ deps, event: pushEvent, timeFactor: SLOW_BAKE, retryIntervalMs: 10, onEvent: first.onEvent });
      await first.reached;

      const edited = await fetch(`${emulator.url}/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/web`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([
          { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 40 },
          { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 60 },
        ]),
      });
      const result = await rollout;

      expect(edited.status).toBe(200);
      expect(result.outcome).toBe('promoted');
      expect(result.status?.weights).toEqual([10, 20, 30]);
      expect(events()).toContain(
        'Warning TrafficDrift: web: route had 40% stable / 60% canary, Fledge had set 90% / 10%: re-asserting',
      );
    });

    it('halts and rolls back when someone changes the canary Deployment\'s image mid-rollout', async () => {
      const deps = await prepare({ 'error-rate': [0.1] });
      const first = atWeight(10);
      const rollout = runRollout({ deps, event: pushEvent, timeFactor: SLOW_BAKE, retryIntervalMs: 10, onEvent: first.onEvent });
      await first.reached;

      await fetch(`${emulator.url}/apis/apps/v1/namespaces/prod/deployments/web-canary`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example.com/web:hotfix' }]),
      });
      const result = await rollout;

      expect(result.outcome).toBe('rolled_back');
      expect(result.cause).toBe(
        `CanaryDriftError: canary Deployment prod/web-canary runs example.com/web:hotfix, not ${PUSHED}: someone changed the canary during the rollout`,
      );
      expect(backendRefs()).toEqual([{ name: 'web', port: 80, weight: 100 }]);
      expect(stableImage()).toBe(STABLE);
    });
  });
});
