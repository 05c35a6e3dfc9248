// Fault injection: the real state machine and handlers against a Kubernetes API and a metrics backend that fail in the ways real ones do.
// Each scenario is one row of SCENARIOS: its faults, and what the cluster, the outcome and the reason must be afterwards.
import { afterAll, describe, expect, it } from 'vitest';
import { runRollout } from '../../local/runner';
import pushEvent from '../fixtures/ecr-push-event.json';
import { PUSHED, STABLE, TIME_FACTOR, formatTable, runScenario, tableRow, whenEntering } from './harness';
import type { FaultScenario, ScenarioRun, TableRow } from './harness';

const ROUTE = '/httproutes/web';
const NEWER_DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const NEWER = `123456789012.dkr.ecr.us-west-2.amazonaws.com/web@${NEWER_DIGEST}`;
const STEPS = [10, 20, 30];
/** The route writes of a whole rollout: adopt at 0, each step once, then finalize (which removes the canary backend). */
const ONE_WRITE_PER_STEP = [0, ...STEPS, 0];

function expectPromoted(run: ScenarioRun): void {
  expect(run.outcome).toBe('promoted');
  expect(run.route).toEqual({ stable: 100, canary: 0, canaryRef: false });
  expect(run.stableImage).toBe(PUSHED);
  expect(run.canaryReplicas).toBe(0);
  expect(run.result.status?.weights).toEqual(STEPS);
  expect(run.reason).toBe(`promoted ${PUSHED} after 3 steps (10, 20, 30%)`);
  expect(run.statusAnnotation?.phase).toBe('Promoted');
}

function expectRolledBack(run: ScenarioRun): void {
  expect(run.outcome).toBe('rolled_back');
  expect(run.result.error).toBe('RolledBack');
  expect(run.route).toEqual({ stable: 100, canary: 0, canaryRef: false });
  expect(run.stableImage).toBe(STABLE);
  expect(run.canaryReplicas).toBe(0);
  expect(run.events).toContain(`Warning RolledBack: ${run.reason}`);
  expect(run.statusAnnotation).toMatchObject({ phase: 'RolledBack', reason: run.reason });
}

/** Failed attempts of one state whose cause matches. */
const failuresOf = (run: ScenarioRun, state: string, cause: RegExp) => run.failures.filter((f) => f.state === state && cause.test(f.cause));

const SCENARIOS: FaultScenario[] = [
  {
    name: 'kube API down mid-rollout',
    title: 'carries a rollout through a Kubernetes API outage shorter than the retries, without losing a request',
    world: true,
    retryIntervalMs: 100,
    // Every connection is reset for 300 ms from the start of the second step; retries come every 100 ms, four of them.
    onEvent: whenEntering('ShiftWeight', 2, ({ emulator }) => emulator.faults.down(300)),
    assess(run) {
      expectPromoted(run);
      expect(run.retries.ShiftWeight).toBeGreaterThanOrEqual(1);
      expect(failuresOf(run, 'ShiftWeight', /no answer from the API server/).length).toBe(run.retries.ShiftWeight);
      expect(run.failures.every((f) => f.error === 'KubernetesTransientError')).toBe(true);
      expect(run.routeWrites).toEqual(ONE_WRITE_PER_STEP);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'kube API down > Task retries',
    title: 'rolls back, naming the failed call, when the API is down longer than a step can retry but back before the rollback gives up',
    world: true,
    retryIntervalMs: 100,
    // ShiftWeight gives up after 4 retries (~400 ms); Rollback retries for 800 ms more, and the API is back at 800 ms.
    onEvent: whenEntering('ShiftWeight', 2, ({ emulator }) => emulator.faults.down(800)),
    assess(run) {
      expectRolledBack(run);
      expect(run.retries.ShiftWeight).toBe(4);
      expect(run.retries.Rollback).toBeGreaterThanOrEqual(1);
      expect(run.reason).toMatch(/^KubernetesTransientError: .* failed: no answer from the API server/);
      expect(run.result.status?.weights).toEqual([10]);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: '409 storm on HTTPRoute',
    title: 'absorbs a storm of 409 Conflicts on the HTTPRoute: read-modify-write again, then the state machine retries the step',
    world: true,
    arm({ emulator }) {
      // After the route is adopted, the next 12 writes conflict: 5 + 5 in two ShiftWeight attempts, 2 in the third.
      emulator.faults.add({
        method: 'PUT',
        pathIncludes: ROUTE,
        times: 1,
        onMatch: () => void emulator.faults.add({ method: 'PUT', pathIncludes: ROUTE, status: 409, times: 12 }),
      });
    },
    assess(run) {
      expectPromoted(run);
      expect(run.retries.ShiftWeight).toBe(2);
      expect(failuresOf(run, 'ShiftWeight', /409 Conflict on each of 5 attempts/)).toHaveLength(2);
      expect(run.routeWrites).toEqual(ONE_WRITE_PER_STEP);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: '409 storm > retries',
    title: 'rolls back, naming the conflict, when the HTTPRoute keeps conflicting through every retry',
    arm({ emulator }) {
      // 25 conflicts: 5 in each of ShiftWeight's 5 attempts; the storm is over when Rollback writes.
      emulator.faults.add({
        method: 'PUT',
        pathIncludes: ROUTE,
        times: 1,
        onMatch: () => void emulator.faults.add({ method: 'PUT', pathIncludes: ROUTE, status: 409, times: 25 }),
      });
    },
    assess(run) {
      expectRolledBack(run);
      expect(run.retries.ShiftWeight).toBe(4);
      expect(run.reason).toMatch(/^KubernetesTransientError: set weights 90\/10 on HTTPRoute prod\/web failed: 409 Conflict on each of 5 attempts/);
      expect(run.result.status?.weights).toEqual([]);
    },
  },
  {
    name: '5xx on writes',
    title: 'retries 500 and 503 answers to writes, and a retried step repeats none of what it had done',
    world: true,
    onEvent: whenEntering('ShiftWeight', 2, ({ emulator }) => {
      emulator.faults.add({ method: 'PATCH', status: 500, times: 1 });
      emulator.faults.add({ method: 'PUT', pathIncludes: ROUTE, status: 503, times: 2 });
      // The next Event write: Promote's, after it has set the image.
      emulator.faults.add({ method: 'POST', pathIncludes: '/events', status: 500, times: 1 });
    }),
    assess(run) {
      expectPromoted(run);
      expect(run.retries.ShiftWeight).toBe(3);
      expect(run.retries.Promote).toBe(1);
      expect(failuresOf(run, 'ShiftWeight', /failed: 500 InternalError/)).toHaveLength(1);
      expect(failuresOf(run, 'ShiftWeight', /failed: 503 ServiceUnavailable/)).toHaveLength(2);
      expect(run.events.filter((e) => e.startsWith('Normal Promoting'))).toHaveLength(1);
      expect(run.routeWrites).toEqual(ONE_WRITE_PER_STEP);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'slow API > request timeout',
    title: 'gives up on Kubernetes requests slower than kubeTimeoutMs and retries them, instead of hanging the Task',
    world: true,
    kubeTimeoutMs: 250,
    onEvent: whenEntering('ShiftWeight', 2, ({ emulator }) => {
      // Answers that would come after 1.5 s: the first two reads of the Deployment, then the route write.
      emulator.faults.add({ method: 'GET', pathIncludes: '/deployments/web', delayMs: 1500, times: 2 });
      emulator.faults.add({ method: 'PUT', pathIncludes: ROUTE, delayMs: 1500, times: 1 });
    }),
    assess(run) {
      expectPromoted(run);
      expect(failuresOf(run, 'ShiftWeight', /failed: no answer from the API server within the request timeout$/)).toHaveLength(3);
      expect(run.retries.ShiftWeight).toBe(3);
      // The abandoned write still reaches the API server later, with the resourceVersion it read: it can only conflict.
      expect(run.routeWrites).toEqual(ONE_WRITE_PER_STEP);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'crash after route write',
    title: 'retries a step that failed after its route write without a second write or a duplicate step in the history',
    world: true,
    arm({ emulator }) {
      // The first step's route write goes through; the Deployment PATCH right after it (the status annotation) fails, then the retries' first PATCHes too.
      let routeWrites = 0;
      emulator.faults.add({
        method: 'PUT',
        pathIncludes: ROUTE,
        times: 2,
        onMatch: () => {
          if (++routeWrites === 2) emulator.faults.add({ method: 'PATCH', pathIncludes: '/deployments/web', status: 500, times: 3 });
        },
      });
    },
    assess(run) {
      expectPromoted(run);
      expect(run.retries.ShiftWeight).toBe(3);
      expect(run.failures.map((f) => f.state)).toEqual(['ShiftWeight', 'ShiftWeight', 'ShiftWeight']);
      expect(run.routeWrites).toEqual(ONE_WRITE_PER_STEP);
      // The retries found the route at the step's weight: that is this step's own write, not drift.
      expect(run.events.filter((e) => e.includes('TrafficDrift'))).toEqual([]);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'crash in Promote after image write',
    title: 'restores the stable image when Promote set it and then failed for good (its Event write kept failing)',
    world: true,
    // Promote sets the image on the stable Deployment, then records an Event: that write fails in all 5 attempts.
    onEvent: whenEntering('Promote', 1, ({ emulator }) => void emulator.faults.add({ method: 'POST', pathIncludes: '/events', status: 500, times: 5 })),
    assess(run) {
      expect(run.retries.Promote).toBe(4);
      expect(run.reason).toMatch(/^KubernetesTransientError: record event Promoting on Deployment prod\/web failed: 500/);
      expectRolledBack(run);
    },
  },
  {
    name: 'lock write answer lost',
    title: 'leaves no rollout lock behind when CreateCanary took it but its answer was lost and the API stayed down through its retries',
    kubeTimeoutMs: 150,
    retryIntervalMs: 400,
    arm({ emulator }) {
      // CreateCanary's first write, the lock: it lands at 300 ms, after the client gave up at 150 ms, and the API goes
      // down as it lands, for longer than CreateCanary's retries (4 × 400 ms); Rollback outlasts it and frees the lock.
      emulator.faults.add({ method: 'PATCH', pathIncludes: '/deployments/web', delayMs: 300, times: 1, onMatch: () => emulator.faults.down(4_000) });
    },
    assess(run) {
      expect(run.outcome).toBe('rolled_back');
      expect(run.reason).toMatch(/^KubernetesTransientError: /);
      expect(run.route).toEqual({ stable: 100, canary: 0, canaryRef: false });
      expect(run.stableImage).toBe(STABLE);
      // A lock held by an execution that has ended makes the next push of this image "already being rolled out" (Ignored) for 10 minutes.
      expect(run.lockAnnotation).toBeUndefined();
    },
  },
  {
    name: 'metrics backend refused',
    title: 'counts a metrics backend that refuses connections as failed checks and rolls back, naming the metric',
    onEvent: whenEntering('Bake', 1, ({ metrics }) => void metrics.refuse()),
    assess(run) {
      expectRolledBack(run);
      expect(run.reason).toMatch(/^error-rate: provider error: web metric at .* is unreachable: ECONNREFUSED \(2\/2 consecutive failed checks at canary weight 10%\)$/);
      expect(run.result.status?.weights).toEqual([10]);
    },
  },
  {
    name: 'metrics backend hangs',
    title: 'counts a metrics backend that accepts and never answers as failed checks after metricTimeoutMs and rolls back, naming the metric',
    metricTimeoutMs: 200,
    onEvent: whenEntering('Bake', 1, ({ metrics }) => metrics.setMode('hang')),
    assess(run) {
      expectRolledBack(run);
      expect(run.reason).toMatch(/^error-rate: provider error: web metric at .* did not answer within 200 ms \(2\/2 consecutive failed checks at canary weight 10%\)$/);
      expect(run.result.status?.weights).toEqual([10]);
    },
  },
  {
    name: 'kube API down in Rollback',
    title: 'completes a rollback through a Kubernetes API outage shorter than its retries',
    world: true,
    metricValues: [5],
    retryIntervalMs: 100,
    onEvent: whenEntering('Rollback', 1, ({ emulator }) => emulator.faults.down(300)),
    assess(run) {
      expectRolledBack(run);
      expect(run.reason).toBe('error-rate 5 > max 1 (2/2 consecutive failed checks at canary weight 10%)');
      expect(run.retries.Rollback).toBeGreaterThanOrEqual(1);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'kube API down > Rollback retries',
    title: 'ends in RollbackFailed, naming the call that failed, when the API stays down through all of Rollback’s retries',
    world: true,
    metricValues: [5],
    onEvent: whenEntering('Rollback', 1, ({ emulator }) => emulator.faults.down(5_000)),
    assess(run) {
      expect(run.outcome).toBe('rollback_failed');
      expect(run.result.error).toBe('RollbackFailed');
      expect(run.retries.Rollback).toBe(8);
      expect(run.reason).toMatch(/failed: no answer from the API server/);
      // Fledge could not write: the route is as the last step left it, and says so nowhere but in the outcome.
      expect(run.route).toEqual({ stable: 90, canary: 10, canaryRef: true });
      expect(run.stableImage).toBe(STABLE);
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'second push mid-rollout',
    title: 'lets a push of a newer image supersede the running rollout: the old execution stops, stable takes the traffic back, the new one goes from the start',
    world: true,
    onEvent: whenEntering('Bake', 2, (ctx) => {
      const newer = { ...pushEvent, detail: { ...pushEvent.detail, 'image-digest': NEWER_DIGEST, 'image-tag': '1.4.3' } };
      ctx.alongside.push(runRollout({ deps: ctx.deps, event: newer, timeFactor: TIME_FACTOR, retryIntervalMs: 50, executionName: 'newer' }));
    }),
    assess(run) {
      expect(run.outcome).toBe('superseded');
      expect(run.reason).toMatch(/^superseded by execution .*:newer rolling out .*@sha256:0123/);
      expect(run.alongside.map((r) => r.outcome)).toEqual(['promoted']);
      expect(run.route).toEqual({ stable: 100, canary: 0, canaryRef: false });
      expect(run.stableImage).toBe(NEWER);
      expect(run.events.some((e) => e.startsWith('Normal TrafficRestored: moved 20% canary traffic back to stable'))).toBe(true);
      expect(run.lockAnnotation).toBeUndefined();
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'route weights edited mid-rollout',
    title: 'notices route weights someone edited during a bake and re-asserts its own at the next step',
    world: true,
    onEvent: whenEntering('Bake', 1, ({ emulator }) => {
      void fetch(`${emulator.url}/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/web`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([
          { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 50 },
          { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 50 },
        ]),
      });
    }),
    assess(run) {
      expectPromoted(run);
      expect(run.events).toContain('Warning TrafficDrift: web: route had 50% stable / 50% canary, Fledge had set 90% / 10%: re-asserting');
      expect(run.lostRequests).toBe(0);
    },
  },
  {
    name: 'canary image edited mid-rollout',
    title: 'halts and rolls back when someone changes the canary Deployment\'s image during a bake',
    world: true,
    onEvent: whenEntering('Bake', 1, ({ emulator }) => {
      void fetch(`${emulator.url}/apis/apps/v1/namespaces/prod/deployments/web-canary`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example.com/web:hotfix' }]),
      });
    }),
    assess(run) {
      expectRolledBack(run);
      expect(run.reason).toBe(`CanaryDriftError: canary Deployment prod/web-canary runs example.com/web:hotfix, not ${PUSHED}: someone changed the canary during the rollout`);
      expect(run.lostRequests).toBe(0);
    },
  },
];

describe('fault injection', () => {
  const rows: TableRow[] = [];
  const started = Date.now();

  afterAll(() => {
    console.log(`${formatTable(rows)}\n(${rows.length} scenarios in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  });

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.title}`, async () => {
      let run: ScenarioRun;
      try {
        run = await runScenario(scenario);
      } catch (error) {
        rows.push(tableRow(scenario.name, error as Error));
        throw error;
      }
      rows.push(tableRow(scenario.name, run));
      scenario.assess(run);
    }, 20_000);
  }
});
