// Per-step overhead of the real rollout.asl.json: a many-step promotion with zero bake time, against the Kubernetes emulator.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { buildDeps } from '../lambdas/handlers/composition';
import { seedObjects } from '../local/demo/world';
import { startKubeEmulator } from '../local/kube-emulator';
import { loadDefinition, runRollout } from '../local/runner';
import type { RunResult } from '../local/runner';
import { canaryYaml, errorRateTemplateYaml } from '../test/helpers/manifests';
import { startMetricServer } from '../test/helpers/metric-server';
import pushEvent from '../test/fixtures/ecr-push-event.json';
import { median } from './cold-import';
import { formatTable } from './bundle-size';

const STABLE_IMAGE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';

/** The Task states that run once per analysis step, and the states a step enters. */
const STEP_STATES = ['ShiftWeight', 'Bake', 'AnalyzeMetrics', 'Decide'] as const;

export interface StepOverheadOptions {
  /** Canary weights, increasing, each 1–100. @default 5, 10, …, 100 (20 steps) */
  readonly stepWeights?: readonly number[];
  /** Demo time per real time: 1e-6 makes the 1m bake 0.06 ms (a timer still waits about 1 ms). @default 1e-6 */
  readonly timeFactor?: number;
  /** Measured rollouts; the figures are their medians. @default 5 */
  readonly runs?: number;
  /** Rollouts run first and thrown away, so JIT and connection warm-up stay out of the figures. @default 1 */
  readonly warmupRuns?: number;
}

export interface StepRun {
  readonly outcome: RunResult['outcome'];
  readonly weights: readonly number[];
  readonly wallMs: number;
  readonly statesEntered: number;
  /** WaitForCanaryReady and WaitForStableRollout entries: polls until the emulator reports the Deployment rolled out. */
  readonly canaryPolls: number;
  readonly stablePolls: number;
  /** States a promotion with these steps and polls enters: 4 per step, 3 per poll, 6 more. */
  readonly expectedStates: number;
  /** From calling runRollout to Initialize entered: definition load, manifest read, interpreter set-up. */
  readonly startupMs: number;
  /** From the last state entered to runRollout returning. */
  readonly tailMs: number;
  /** From the first ShiftWeight entered to Promote entered: the analysis steps alone. */
  readonly stepLoopMs: number;
  readonly kubeRequests: number;
  readonly stepLoopKubeRequests: number;
  /** Kubernetes API requests made while each Task state ran, summed over the run. */
  readonly kubeRequestsByState: Record<string, number>;
  readonly entriesByState: Record<string, number>;
  /** Entered to the next state entered, per entry, for each state. */
  readonly msByState: Record<string, number[]>;
  readonly metricQueries: number;
}

export interface StepOverheadResult {
  readonly steps: number;
  readonly timeFactor: number;
  readonly runs: readonly StepRun[];
  /** Medians over the measured runs. */
  readonly wallMs: number;
  readonly startupMs: number;
  readonly msPerState: number;
  /** The same without the start-up before the first state. */
  readonly msPerStateAfterStartup: number;
  readonly msPerStep: number;
  /** Counts are the same in every run (bar polls); these are the last run's. */
  readonly statesEntered: number;
  readonly expectedStates: number;
  readonly kubeRequestsPerStep: number;
  /** `new StateMachine(definition)` with the validation runRollout asks for, median of 3 after the runs (local runner only). */
  readonly aslValidationMs: number;
}

export const DEFAULT_STEP_WEIGHTS: readonly number[] = Array.from({ length: 20 }, (_, i) => 5 * (i + 1));

/** One promotion in a fresh emulator and metrics server, timed and counted from the execution's event log. */
export async function runStepRollout(stepWeights: readonly number[], timeFactor: number): Promise<StepRun> {
  // rolloutDelayMs 0: Deployments finish rolling out on the emulator's next tick, so readiness polls stay few.
  const emulator = await startKubeEmulator({ rolloutDelayMs: 0 });
  const metrics = await startMetricServer({ 'error-rate': [0.2] });
  const dir = await mkdtemp(join(tmpdir(), 'fledge-bench-steps-'));
  try {
    emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: STABLE_IMAGE }));
    await writeFile(join(dir, 'canary.yaml'), canaryYaml({ analysis: `    interval: 1m\n    threshold: 1\n    stepWeights: [${stepWeights.join(', ')}]` }));
    await writeFile(join(dir, 'error-rate.yaml'), errorRateTemplateYaml(metrics.url));
    const deps = buildDeps({ manifestsDir: dir, kubeServer: emulator.url, metricTimeoutMs: 2000 });

    const entries: { state: string; at: number; requests: number }[] = [];
    const started = performance.now();
    const result = await runRollout({
      deps,
      event: pushEvent,
      timeFactor,
      retryIntervalMs: 1,
      onEvent: (event) => {
        if (event.type === 'StateEntered') entries.push({ state: event.state.name, at: performance.now(), requests: emulator.requests.length });
      },
    });
    const wallMs = performance.now() - started;

    const kubeRequests = emulator.requests.length;
    const kubeRequestsByState: Record<string, number> = {};
    const entriesByState: Record<string, number> = {};
    const msByState: Record<string, number[]> = {};
    entries.forEach((entry, i) => {
      entriesByState[entry.state] = (entriesByState[entry.state] ?? 0) + 1;
      const next = entries[i + 1];
      if (next) (msByState[entry.state] ??= []).push(next.at - entry.at);
      const made = (entries[i + 1]?.requests ?? kubeRequests) - entry.requests;
      if (made > 0) kubeRequestsByState[entry.state] = (kubeRequestsByState[entry.state] ?? 0) + made;
    });
    const firstShift = entries.find((e) => e.state === 'ShiftWeight');
    const promote = entries.find((e) => e.state === 'Promote');
    const canaryPolls = entriesByState.WaitForCanaryReady ?? 0;
    const stablePolls = entriesByState.WaitForStableRollout ?? 0;
    return {
      outcome: result.outcome,
      weights: result.status?.weights ?? [],
      wallMs,
      startupMs: entries.length ? entries[0].at - started : NaN,
      tailMs: entries.length ? started + wallMs - entries[entries.length - 1].at : NaN,
      statesEntered: result.statesEntered.length,
      canaryPolls,
      stablePolls,
      expectedStates: STEP_STATES.length * stepWeights.length + 3 * canaryPolls + 3 * stablePolls + 6,
      stepLoopMs: firstShift && promote ? promote.at - firstShift.at : NaN,
      kubeRequests,
      stepLoopKubeRequests: firstShift && promote ? promote.requests - firstShift.requests : NaN,
      kubeRequestsByState,
      entriesByState,
      msByState,
      metricQueries: metrics.calls['error-rate'] ?? 0,
    };
  } finally {
    await metrics.close();
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function stepOverhead(options: StepOverheadOptions = {}): Promise<StepOverheadResult> {
  const stepWeights = options.stepWeights ?? DEFAULT_STEP_WEIGHTS;
  const timeFactor = options.timeFactor ?? 1e-6;
  for (let i = 0; i < (options.warmupRuns ?? 1); i++) await runStepRollout(stepWeights, timeFactor);
  const runs: StepRun[] = [];
  for (let i = 0; i < (options.runs ?? 5); i++) runs.push(await runStepRollout(stepWeights, timeFactor));
  const last = runs[runs.length - 1];
  const { definition } = loadDefinition();
  const validations: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    validations.push(performance.now() - started);
  }
  return {
    steps: stepWeights.length,
    timeFactor,
    runs,
    wallMs: median(runs.map((r) => r.wallMs)),
    startupMs: median(runs.map((r) => r.startupMs)),
    msPerState: median(runs.map((r) => r.wallMs / r.statesEntered)),
    msPerStateAfterStartup: median(runs.map((r) => (r.wallMs - r.startupMs) / r.statesEntered)),
    msPerStep: median(runs.map((r) => r.stepLoopMs / stepWeights.length)),
    statesEntered: last.statesEntered,
    expectedStates: last.expectedStates,
    kubeRequestsPerStep: last.stepLoopKubeRequests / stepWeights.length,
    aslValidationMs: median(validations),
  };
}

export function formatStepOverhead(result: StepOverheadResult): string {
  const last = result.runs[result.runs.length - 1];
  const perStepStates = STEP_STATES.filter((s) => s in last.entriesByState);
  const byState = Object.entries(last.entriesByState).map(([state, entered]) => [
    state,
    String(entered),
    last.msByState[state] ? median(last.msByState[state]).toFixed(2) : '-',
    ((last.kubeRequestsByState[state] ?? 0) / entered).toFixed(1),
  ]);
  return [
    `${result.steps} steps (${last.weights.join(', ')}), timeFactor ${result.timeFactor}, bake ${(60_000 * result.timeFactor).toFixed(3)} ms; ` +
      `median of ${result.runs.length} runs after warm-up; outcome ${last.outcome}`,
    '',
    formatTable(
      ['figure', 'value'],
      [
        ['wall time per rollout', `${result.wallMs.toFixed(0)} ms`],
        ['of which before the first state', `${result.startupMs.toFixed(0)} ms`],
        ['  of which validating the ASL (new StateMachine)', `${result.aslValidationMs.toFixed(0)} ms`],
        ['states entered', `${result.statesEntered} (expected ${result.expectedStates}: ${STEP_STATES.length}×${result.steps} step states, ${last.canaryPolls} canary poll(s), ${last.stablePolls} stable poll(s))`],
        ['ms per state transition (wall time / states)', result.msPerState.toFixed(2)],
        ['ms per state transition after the first state', result.msPerStateAfterStartup.toFixed(2)],
        [`ms per analysis step (${perStepStates.join(' → ')})`, result.msPerStep.toFixed(2)],
        ['Kubernetes API requests per step', result.kubeRequestsPerStep.toFixed(1)],
        ['Kubernetes API requests per rollout', String(last.kubeRequests)],
        ['metric queries per rollout', String(last.metricQueries)],
        ['wall time per run', result.runs.map((r) => `${r.wallMs.toFixed(0)} ms`).join(', ')],
      ],
      [],
    ),
    '',
    'By state, last run (ms: from entering the state to entering the next, median; a terminal state has none):',
    '',
    formatTable(['state', 'entered', 'median ms', 'Kubernetes requests per entry'], byState, [1, 2, 3]),
  ].join('\n');
}
