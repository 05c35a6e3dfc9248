// Runs one fault scenario: the real state machine and handlers against the Kubernetes emulator, with the demo world's traffic when asked, and reports what it left behind.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeps } from '../../lambdas/handlers/composition';
import type { HandlerDeps } from '../../lambdas/handlers/deps';
import { behaviorForImages, seedObjects, startDemoWorld } from '../../local/demo/world';
import type { DemoWorld } from '../../local/demo/world';
import { startKubeEmulator } from '../../local/kube-emulator';
import type { KubeEmulator } from '../../local/kube-emulator';
import { runRollout } from '../../local/runner';
import type { EventLog, Outcome, RunResult } from '../../local/runner';
import pushEvent from '../fixtures/ecr-push-event.json';
import { canaryYaml, errorRateTemplateYaml } from '../helpers/manifests';
import { startMetricsBackend } from './metrics-backend';
import type { MetricsBackend } from './metrics-backend';

export const NAMESPACE = 'prod';
export const NAME = 'web';
export const STABLE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';
export const PUSHED = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234';
/** A 1m bake lasts 120 ms; a 10 s wait for a rollout, 20 ms. */
export const TIME_FACTOR = 0.002;
/** Three steps (10, 20, 30%); two consecutive failed checks roll back. */
export const DEFAULT_ANALYSIS = `    interval: 1m
    threshold: 2
    stepWeight: 10
    maxWeight: 30`;

/** What a scenario's faults can reach while the rollout runs. */
export interface FaultContext {
  readonly emulator: KubeEmulator;
  readonly metrics: MetricsBackend;
  readonly world?: DemoWorld;
  /** The handlers' dependencies, for a scenario that starts another execution (`runRollout({ deps, … })`). */
  readonly deps: HandlerDeps;
  /** Executions a scenario started alongside the main one: the run waits for them before reading the cluster. */
  readonly alongside: Promise<RunResult>[];
}

export interface FaultScenario {
  /** Short name for the summary table. */
  readonly name: string;
  /** The test's title: the behaviour it shows. */
  readonly title: string;
  /** Run the demo world's pods, gateway and load, to count the requests users lost. @default false */
  readonly world?: boolean;
  /** error-rate values, one per check (the last repeats); the bound is max 1. @default [0.2] */
  readonly metricValues?: ReadonlyArray<number | null>;
  /** The Canary's spec.analysis, minus metrics. @default DEFAULT_ANALYSIS */
  readonly analysis?: string;
  /** FledgeConfig.kubeTimeoutMs. @default 2000 */
  readonly kubeTimeoutMs?: number;
  /** FledgeConfig.metricTimeoutMs. @default 2000 */
  readonly metricTimeoutMs?: number;
  /** Pause before each Task retry (flat: the interpreter's override has no backoff). @default 50 */
  readonly retryIntervalMs?: number;
  /** Faults in place before the execution starts. */
  arm?(ctx: FaultContext): void;
  /** Every execution event as it happens: for faults that start at a given state. */
  onEvent?(event: EventLog, ctx: FaultContext): void;
  /** Assertions on what the run left behind. */
  assess(run: ScenarioRun): void;
}

/** Shares of the route's traffic, in percent. */
export interface RouteState {
  readonly stable: number;
  readonly canary: number;
  /** The route still has a backendRef to the canary Service. */
  readonly canaryRef: boolean;
}

export interface ScenarioRun {
  readonly result: RunResult;
  /** Results of the executions the scenario started alongside, in the order it started them. */
  readonly alongside: readonly RunResult[];
  readonly outcome: Outcome;
  /** status.reason, or the Fail state's cause when the run failed. */
  readonly reason: string;
  /** The HTTPRoute as the run left it, read from the emulator. */
  readonly route: RouteState;
  /** Canary weight of every HTTPRoute write the API server accepted, in order (the reconcile's 0 first). */
  readonly routeWrites: readonly number[];
  readonly stableImage: string;
  readonly canaryReplicas?: number;
  /** The fledge.dev/status annotation, parsed. */
  readonly statusAnnotation?: { phase?: string; canaryWeight?: number; reason?: string };
  /** The fledge.dev/lock annotation as the run left it (raw), undefined when there is none. */
  readonly lockAnnotation?: string;
  /** `type reason: message` of each Kubernetes Event. */
  readonly events: readonly string[];
  /** Retries per state. */
  readonly retries: Readonly<Record<string, number>>;
  /** Every failed attempt of a state: its error name and cause. */
  readonly failures: readonly { readonly state: string; readonly error: string; readonly cause: string }[];
  /** Requests the demo's users lost; undefined when the world did not run. */
  readonly lostRequests?: number;
  readonly elapsedMs: number;
}

/** An onEvent that calls `action` when `state` is entered for the `nth` time (1-based). */
export function whenEntering(state: string, nth: number, action: (ctx: FaultContext) => void): (event: EventLog, ctx: FaultContext) => void {
  let seen = 0;
  return (event, ctx) => {
    if (event.type === 'StateEntered' && event.state.name === state && ++seen === nth) action(ctx);
  };
}

interface BackendRef {
  name: string;
  weight?: number;
}

const refsOf = (route: { spec?: { rules?: { backendRefs?: BackendRef[] }[] } } | undefined): BackendRef[] => route?.spec?.rules?.[0]?.backendRefs ?? [];

function routeState(emulator: KubeEmulator): RouteState {
  const refs = refsOf(emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', NAMESPACE, NAME));
  const stable = refs.find((ref) => ref.name === NAME);
  const canary = refs.find((ref) => ref.name === `${NAME}-canary`);
  // Gateway API's default weight is 1; the share of traffic is what users see.
  const stableWeight = stable ? (stable.weight ?? 1) : 0;
  const canaryWeight = canary ? (canary.weight ?? 1) : 0;
  const total = stableWeight + canaryWeight;
  const stableShare = total === 0 ? 0 : Math.round((stableWeight * 100) / total);
  return { stable: stableShare, canary: total === 0 ? 0 : 100 - stableShare, canaryRef: canary !== undefined };
}

function parseJson<T>(text: string | undefined): T | undefined {
  try {
    return text === undefined ? undefined : (JSON.parse(text) as T);
  } catch {
    return undefined;
  }
}

/** Run one scenario from a freshly seeded cluster to the end of its execution, and read what it left. */
export async function runScenario(scenario: FaultScenario): Promise<ScenarioRun> {
  const dir = await mkdtemp(join(tmpdir(), 'fledge-faults-'));
  let emulator: KubeEmulator | undefined;
  let metrics: MetricsBackend | undefined;
  let world: DemoWorld | undefined;
  try {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    emulator.seed(seedObjects({ namespace: NAMESPACE, name: NAME, stableImage: STABLE }));
    metrics = await startMetricsBackend(scenario.metricValues ?? [0.2]);
    if (scenario.world) {
      world = await startDemoWorld({
        kubeUrl: emulator.url,
        namespace: NAMESPACE,
        name: NAME,
        stableImage: STABLE,
        scenarioImage: PUSHED,
        behaviorForImage: behaviorForImages({}, 'healthy'),
        timeFactor: TIME_FACTOR,
        silent: false,
        load: { concurrency: 2, ratePerWorker: 25 },
      });
    }
    await writeFile(join(dir, 'canary.yaml'), canaryYaml({ analysis: scenario.analysis ?? DEFAULT_ANALYSIS }));
    await writeFile(join(dir, 'error-rate.yaml'), errorRateTemplateYaml(metrics.url));
    const deps = buildDeps({
      manifestsDir: dir,
      kubeServer: emulator.url,
      metricTimeoutMs: scenario.metricTimeoutMs ?? 2000,
      kubeTimeoutMs: scenario.kubeTimeoutMs ?? 2000,
    });

    const ctx: FaultContext = { emulator, metrics, world, deps, alongside: [] };
    const retries: Record<string, number> = {};
    const failures: { state: string; error: string; cause: string }[] = [];
    scenario.arm?.(ctx);
    const started = Date.now();
    const result = await runRollout({
      deps,
      event: pushEvent,
      timeFactor: TIME_FACTOR,
      retryIntervalMs: scenario.retryIntervalMs ?? 50,
      onEvent: (event) => {
        if (event.type === 'StateRetried') retries[event.state.name] = (retries[event.state.name] ?? 0) + 1;
        if (event.type === 'StateFailed') failures.push({ state: event.state.name, error: String(event.Error), cause: String(event.Cause) });
        scenario.onEvent?.(event, ctx);
      },
    });
    const elapsedMs = Date.now() - started;
    const alongside = await Promise.all(ctx.alongside);
    // Whatever is still injected would only get in the way of reading the result and shutting down.
    emulator.faults.clear();
    // Stop the load first: a request still in flight when the count is read would be counted neither way.
    await world?.load.stop();
    const lostRequests = world?.lostRequests();

    const stable = emulator.get('apps/v1', 'Deployment', NAMESPACE, NAME);
    const routePath = `/apis/gateway.networking.k8s.io/v1/namespaces/${NAMESPACE}/httproutes/${NAME}`;
    return {
      result,
      alongside,
      outcome: result.outcome,
      reason: result.cause ?? result.status?.reason ?? '',
      route: routeState(emulator),
      routeWrites: emulator.requests
        .filter((r) => r.method === 'PUT' && r.path === routePath && r.status >= 200 && r.status < 300)
        .map((r) => refsOf(r.body as never).find((ref) => ref.name === `${NAME}-canary`)?.weight ?? 0),
      stableImage: stable?.spec?.template?.spec?.containers?.[0]?.image ?? '',
      canaryReplicas: emulator.get('apps/v1', 'Deployment', NAMESPACE, `${NAME}-canary`)?.spec?.replicas,
      statusAnnotation: parseJson(stable?.metadata?.annotations?.['fledge.dev/status']),
      lockAnnotation: stable?.metadata?.annotations?.['fledge.dev/lock'],
      events: emulator.list('v1', 'Event', NAMESPACE).map((e) => `${e.type} ${e.reason}: ${e.message}`),
      retries,
      failures,
      lostRequests,
      elapsedMs,
    };
  } finally {
    emulator?.faults.clear();
    await world?.close();
    await metrics?.close();
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line of the summary table. */
export interface TableRow {
  readonly scenario: string;
  readonly outcome: string;
  readonly weights: string;
  readonly lost: string;
  readonly reason: string;
}

export function tableRow(name: string, run: ScenarioRun | Error): TableRow {
  if (run instanceof Error) return { scenario: name, outcome: 'ERROR', weights: '-', lost: '-', reason: run.message };
  return {
    scenario: name,
    outcome: run.outcome,
    weights: `${run.route.stable}/${run.route.canary}${run.route.canaryRef && run.route.canary === 0 ? ' (canary ref)' : ''}`,
    lost: run.lostRequests === undefined ? '-' : String(run.lostRequests),
    // Local addresses, ECR registry hosts and digests are most of a reason: cut them so the rest shows.
    reason: run.reason
      .replace(/http:\/\/127\.0\.0\.1:\d+/g, '')
      .replace(/\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\//g, '').replace(/(sha256:[0-9a-f]{12})[0-9a-f]+/g, '$1…'),
  };
}

/** The rows as a fixed-width text table, reasons cut to `reasonWidth`. */
export function formatTable(rows: readonly TableRow[], reasonWidth = 130): string {
  const header: TableRow = { scenario: 'scenario', outcome: 'outcome', weights: 'final weights (stable/canary)', lost: 'lost requests', reason: 'reason' };
  const cut = (text: string) => (text.length > reasonWidth ? `${text.slice(0, reasonWidth - 1)}…` : text);
  const all = [header, ...rows].map((row) => ({ ...row, reason: cut(row.reason.replace(/\s+/g, ' ')) }));
  const width = (key: keyof TableRow) => Math.max(...all.map((row) => row[key].length));
  const keys: (keyof TableRow)[] = ['scenario', 'outcome', 'weights', 'lost', 'reason'];
  const line = (row: TableRow) => keys.map((key) => row[key].padEnd(width(key))).join(' | ').trimEnd();
  return [line(all[0]), keys.map((key) => '-'.repeat(width(key))).join('-|-'), ...all.slice(1).map(line)].join('\n');
}
