// Fuzzes the entry points with generated malformed ECR events and manifest sets: named errors only, no cluster write, no secret shown.
// Reproduce a run with FUZZ_SEED=<seed> (printed in every summary and failure); FUZZ_SEED=random explores; FUZZ_CASES scales the counts.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifestText } from '../../lambdas/adapters/manifests/folder-manifests';
import { parseImagePush } from '../../lambdas/core/ecr-event';
import * as errors from '../../lambdas/core/errors';
import { buildDeps } from '../../lambdas/handlers/composition';
import { createInitialize } from '../../lambdas/handlers/initialize';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator } from '../../local/kube-emulator';
import type { KubeEmulator, RequestRecord } from '../../local/kube-emulator';
import { runRollout } from '../../local/runner';
import type { RunResult } from '../../local/runner';
import { closedPort, startPrometheusStub } from '../helpers/prometheus-stub';
import type { PrometheusStub } from '../helpers/prometheus-stub';
import {
  EVENT_FAMILIES,
  EVENT_FIXTURE_TEXT,
  MANIFEST_FAMILIES,
  SECRET_FORMS,
  baseManifests,
  eventCase,
  malformedEventCase,
  manifestCase,
  seedFromEnv,
} from './generate';
import type { ManifestContext, ManifestFiles, Mutated } from './generate';

const SEED = seedFromEnv(process.env);
const SCALE = Number(process.env.FUZZ_CASES ?? '') > 0 ? Number(process.env.FUZZ_CASES) / 1000 : 1;
const EVENT_CASES = Math.round(1000 * SCALE);
const MANIFEST_CASES = Math.round(1000 * SCALE);
const MACHINE_EVENT_CASES = Math.round(200 * SCALE);
const MACHINE_MANIFEST_CASES = Math.round(50 * SCALE);
const REPRODUCE =
  `FUZZ_SEED=${SEED} npx vitest run test/fuzz/entry-points.test.ts; one case alone: eventCase(${SEED}, i), ` +
  `malformedEventCase(${SEED}, i) or manifestCase(${SEED}, i, ctx[, 'machine-manifests']) from test/fuzz/generate.ts`;

const STABLE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';
/** The execution id Initialize gets with the event, as the state machine passes $$.Execution.Id. */
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:fledge-rollout:fuzz';
/** Step Functions waits whole seconds, and a standard execution lasts at most a year. */
const MAX_WAIT_SECONDS = 365 * 24 * 3600;

/** Every error name Step Functions can Retry or Catch on: the classes of lambdas/core/errors.ts. */
const NAMED_ERRORS: ReadonlySet<string> = new Set(
  (Object.values(errors) as unknown[])
    .filter((value): value is new (message: string) => Error => typeof value === 'function')
    .map((ErrorClass) => new ErrorClass('probe').name),
);

// ---------------------------------------------------------------------------------------------
// What one case did, and the properties every case must keep

type Outcome = { readonly kind: 'returned'; readonly value: unknown } | { readonly kind: 'threw'; readonly error: unknown };

interface CaseResult {
  readonly id: string;
  readonly mutations: readonly string[];
  readonly outcome: Outcome;
  /** Requests other than GET the cluster received during this case (cases run one at a time). */
  readonly writes?: readonly RequestRecord[];
}

interface Violation {
  readonly id: string;
  readonly mutations: readonly string[];
  readonly problem: string;
  /** What makes two violations the same bug, when the problem text alone would split them. */
  readonly kind?: string;
}

async function outcomeOf(act: () => unknown): Promise<Outcome> {
  try {
    return { kind: 'returned', value: await act() };
  } catch (error) {
    return { kind: 'threw', error };
  }
}

/** `plan`, `Ignored`, an error's name, or what was thrown instead of an Error. */
function label(outcome: Outcome): string {
  if (outcome.kind === 'threw') {
    const { error } = outcome;
    return error instanceof Error ? error.name : `non-Error ${error === null ? 'null' : typeof error}`;
  }
  const value = outcome.value as { status?: { phase?: unknown }; rollout?: unknown } | undefined;
  if (value?.status?.phase === 'Ignored') return 'Ignored';
  if (value?.rollout !== undefined) return 'plan';
  return 'returned';
}

function summary(entry: string, results: readonly { outcome: Outcome }[] | readonly string[], startedAt: number): void {
  const counts = new Map<string, number>();
  for (const result of results) {
    const name = typeof result === 'string' ? result : label(result.outcome);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const byName = [...counts].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`).join(', ');
  const longest = Math.max(0, ...results.map((r) => (typeof r !== 'string' && r.outcome.kind === 'threw' ? messageOf(r.outcome.error).length : 0)));
  console.log(`[fuzz] ${entry}: ${results.length} cases in ${Date.now() - startedAt} ms, seed ${SEED}: ${byName}${longest ? `; longest error message ${longest} chars` : ''}`);
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function issuesOf(error: unknown): readonly string[] {
  const issues = (error as { issues?: unknown }).issues;
  return Array.isArray(issues) ? issues.map(String) : [];
}

/** Where a validation error points: InvalidEventError at the event's field, SpecValidationError at the file (or Canary) and each issue's path. */
function pathProblem(error: Error): string | undefined {
  if (error.name === 'InvalidEventError') {
    return /^(event|source|detail-type|detail|account|region)(\.[\w-]+)?: \S/.test(error.message) ? undefined : 'InvalidEventError does not start with the field it is about';
  }
  if (error.name === 'SpecValidationError') {
    if (!/^(\S+\.ya?ml(#\d+)?: |Canary [^\s/]+\/\S+[ :]|image \S+ is claimed by .*spec\.fledge\.)/.test(error.message)) {
      return 'SpecValidationError does not name the file or the Canary';
    }
    const pathless = issuesOf(error).find((issue) => /^\s*:/.test(issue) || issue.trim() === '');
    return pathless === undefined ? undefined : `SpecValidationError issue without a path: ${JSON.stringify(pathless.slice(0, 80))}`;
  }
  return undefined;
}

/** Initialize's contract: it returns, or it throws a named Error whose message says what and where. */
function contractViolations(results: readonly CaseResult[]): Violation[] {
  return results.flatMap(({ id, mutations, outcome }): Violation[] => {
    if (outcome.kind === 'returned') return [];
    const { error } = outcome;
    if (!(error instanceof Error)) return [{ id, mutations, problem: `threw a non-Error: ${String(error)}` }];
    if (!NAMED_ERRORS.has(error.name)) {
      const problem = `threw ${error.name} (not a named error): ${error.message.slice(0, 160)} at ${stackTop(error)}`;
      return [{ id, mutations, problem, kind: `${error.name}: ${shape(error.message).slice(0, 50)}` }];
    }
    if (error.message.trim() === '') return [{ id, mutations, problem: `${error.name} with an empty message` }];
    const problem = pathProblem(error);
    return problem ? [{ id, mutations, problem: `${problem}: ${error.message.slice(0, 160)}` }] : [];
  });
}

function stackTop(error: Error): string {
  const frame = (error.stack ?? '').split('\n').find((line) => /^\s+at /.test(line) && !line.includes('node_modules/vitest'));
  return frame?.trim().replace(/^at /, '').replace(process.cwd(), '.') ?? 'unknown';
}

/** Where in a message a secret shows: the field path (or YAML excerpt, or sentence) just before it. */
function secretContext(before: string): string {
  const found = [...before.matchAll(/invalid YAML|web metric address|metricsServer|(?:spec|metadata)\.[\w.[\]-]+/g)].pop()?.[0];
  return found ?? 'message';
}

const shape = (text: string) => text.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N');

function secretIn(text: string): string | undefined {
  return SECRET_FORMS.find((form) => text.includes(form));
}

/** No message of anything thrown may show the planted credential. */
function secretInErrors(results: readonly CaseResult[]): Violation[] {
  return results.flatMap(({ id, mutations, outcome }): Violation[] => {
    if (outcome.kind !== 'threw') return [];
    const text = [messageOf(outcome.error), ...issuesOf(outcome.error)].join('\n');
    const form = secretIn(text);
    if (form === undefined) return [];
    const at = text.indexOf(form);
    const excerpt = text.slice(Math.max(0, at - 90), at + form.length + 20).replace(/\s+/g, ' ');
    return [{ id, mutations, problem: `${label(outcome)} shows the secret: …${excerpt}…`, kind: `${label(outcome)} after ${secretContext(text.slice(0, at))}` }];
  });
}

/** No output (it goes into the Step Functions execution history) may carry the planted credential. */
function secretInOutputs(results: readonly CaseResult[]): Violation[] {
  return results.flatMap(({ id, mutations, outcome }): Violation[] => {
    if (outcome.kind !== 'returned') return [];
    const text = JSON.stringify(outcome.value) ?? '';
    const form = secretIn(text);
    if (form === undefined) return [];
    const paths = secretPaths(outcome.value).slice(0, 4).join(', ');
    return [{ id, mutations, problem: `the ${label(outcome)} output carries the secret at ${paths}`, kind: 'output' }];
  });
}

function secretPaths(value: unknown, at = '$'): string[] {
  if (typeof value === 'string') return secretIn(value) ? [at] : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => secretPaths(child, Array.isArray(value) ? `${at}[${key}]` : `${at}.${key}`));
}

interface PlanLike {
  rollout: { steps: number[]; intervalSeconds: number; threshold: number; progressDeadlineSeconds: number; metrics: { name: string; intervalSeconds: number }[] };
}

/** A plan the state machine can run: whole-second waits within an execution's lifetime, weights 1–100 increasing. */
function planViolations(results: readonly CaseResult[]): Violation[] {
  return results.flatMap(({ id, mutations, outcome }): Violation[] => {
    if (outcome.kind !== 'returned' || label(outcome) !== 'plan') return [];
    const { rollout } = outcome.value as PlanLike;
    const problems: string[] = [];
    const wholeWait = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_WAIT_SECONDS;
    if (!wholeWait(rollout.intervalSeconds)) {
      problems.push(`intervalSeconds ${rollout.intervalSeconds} is not a whole number of seconds in 1..${MAX_WAIT_SECONDS} (the Bake state's SecondsPath)`);
    }
    // Canary weights increase; blue/green repeats weight 0 (its iterations) before its one step at 100.
    const stepOk = (w: number, i: number) =>
      Number.isInteger(w) && w >= 0 && w <= 100 && (i === 0 || w > rollout.steps[i - 1] || (w === 0 && rollout.steps[i - 1] === 0));
    if (rollout.steps.length === 0 || !rollout.steps.every(stepOk) || rollout.steps[rollout.steps.length - 1] === 0) {
      problems.push(`steps ${JSON.stringify(rollout.steps)} are not increasing whole weights in 0..100 (0 repeated only for blue/green) ending above 0`);
    }
    if (!(Number.isInteger(rollout.threshold) && rollout.threshold >= 1)) problems.push(`threshold ${rollout.threshold}`);
    if (!(Number.isInteger(rollout.progressDeadlineSeconds) && rollout.progressDeadlineSeconds >= 1)) {
      problems.push(`progressDeadlineSeconds ${rollout.progressDeadlineSeconds}`);
    }
    return problems.map((problem) => ({ id, mutations, problem: `plan: ${problem}` }));
  });
}

/** Violations grouped by the shape of their problem, each shape with its first case: one line per distinct bug, not per case. */
function assertNone(property: string, violations: readonly Violation[]): void {
  if (violations.length === 0) return;
  const shapes = new Map<string, { first: Violation; count: number }>();
  for (const violation of violations) {
    const key = violation.kind ?? shape(violation.problem).slice(0, 140);
    const entry = shapes.get(key);
    if (entry) entry.count++;
    else shapes.set(key, { first: violation, count: 1 });
  }
  const lines = [...shapes.values()].map(
    ({ first, count }) => `  [${count}×] ${first.problem}\n        first: ${first.id} (${first.mutations.join('; ')})`,
  );
  expect.fail(
    `${property}: ${violations.length} case(s), ${shapes.size} distinct problem(s), seed ${SEED} (reproduce: ${REPRODUCE})\n${lines.join('\n')}`,
  );
}

const isWrite = (request: RequestRecord) => request.method !== 'GET';

/** Initialize only reads: whatever it returns or throws, the cluster is as it was. */
function writeViolations(results: readonly CaseResult[]): Violation[] {
  return results.flatMap(({ id, mutations, outcome, writes = [] }): Violation[] =>
    writes.length ? [{ id, mutations, problem: `${label(outcome)}, yet wrote ${writes.map((w) => `${w.method} ${w.path}`).join(', ')}` }] : [],
  );
}

async function writeManifests(dir: string, files: ManifestFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
}

/** What the folder loader does with the files, file by file in name order, through parseManifestText. */
function parseFiles(files: ManifestFiles): void {
  const into = { canaries: [], templates: [] };
  for (const name of Object.keys(files).filter((file) => /\.ya?ml$/.test(file)).sort()) parseManifestText(files[name], name, into);
}

// ---------------------------------------------------------------------------------------------

describe(`fuzzing the entry points with malformed events and manifests (seed ${SEED})`, () => {
  let emulator: KubeEmulator;
  let metrics: PrometheusStub;
  let root: string;
  let ctx: ManifestContext;
  let validDir: string;
  const planOutputs: CaseResult[] = [];

  const depsFor = (manifestsDir: string) => buildDeps({ manifestsDir, kubeServer: emulator.url, metricTimeoutMs: 1000 });

  /** Run one case alone, recording what it wrote to the cluster. */
  async function observe(id: string, mutations: readonly string[], act: () => unknown): Promise<CaseResult> {
    const before = emulator.requests.length;
    const outcome = await outcomeOf(act);
    return { id, mutations, outcome, writes: emulator.requests.slice(before).filter(isWrite) };
  }

  beforeAll(async () => {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: STABLE }));
    metrics = await startPrometheusStub();
    ctx = { metricsPort: metrics.port, closedPort: await closedPort() };
    root = await mkdtemp(join(tmpdir(), 'fledge-fuzz-'));
    validDir = join(root, 'valid');
    await writeManifests(validDir, baseManifests(ctx));
  });

  afterAll(async () => {
    await metrics?.close();
    await emulator?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('starts from a valid pair: the fixture event and the seed manifests make a plan, checking every metrics backend', async () => {
    const plan = await createInitialize(depsFor(validDir))({ event: JSON.parse(EVENT_FIXTURE_TEXT), execution: EXECUTION });

    expect(label({ kind: 'returned', value: plan })).toBe('plan');
    expect((plan as unknown as PlanLike).rollout.metrics.map((m) => m.name)).toEqual(['error-rate', 'request-duration', 'latency']);
    expect(metrics.calls['/api/v1/query']).toBeGreaterThan(0);
    expect(metrics.calls['/']).toBeGreaterThan(0);
  });

  describe(`${EVENT_CASES} generated events → parseImagePush and Initialize, with the valid manifests`, () => {
    const parsed: CaseResult[] = [];
    const initialized: CaseResult[] = [];

    beforeAll(async () => {
      const cases = Array.from({ length: EVENT_CASES }, (_, i) => eventCase(SEED, i));
      let startedAt = Date.now();
      for (const [i, { mutations, value }] of cases.entries()) {
        parsed.push({ id: `events#${i}`, mutations, outcome: await outcomeOf(() => parseImagePush(value)) });
      }
      summary('parseImagePush', parsed, startedAt);

      startedAt = Date.now();
      const initialize = createInitialize(depsFor(validDir));
      for (const [i, { mutations, value }] of cases.entries()) {
        initialized.push(await observe(`events#${i}`, mutations, () => initialize({ event: value, execution: EXECUTION })));
      }
      planOutputs.push(...initialized);
      summary('Initialize (events)', initialized, startedAt);
    }, 120_000);

    it('exercises every event mutation family', () => {
      const seen = new Set(parsed.flatMap((c) => c.mutations.map((m) => m.split(':')[0])));

      expect(EVENT_FAMILIES.filter((family) => !seen.has(family))).toEqual([]);
    });

    it('parseImagePush returns a push pinned by digest, or throws an InvalidEventError naming the field', () => {
      const violations = parsed.flatMap(({ id, mutations, outcome }): Violation[] => {
        if (outcome.kind === 'threw') {
          const error = outcome.error;
          if (!(error instanceof Error) || error.name !== 'InvalidEventError') {
            return [{ id, mutations, problem: `threw ${label(outcome)}: ${messageOf(error).slice(0, 160)}${error instanceof Error ? ` at ${stackTop(error)}` : ''}` }];
          }
          const problem = pathProblem(error);
          return problem ? [{ id, mutations, problem: `${problem}: ${error.message.slice(0, 160)}` }] : [];
        }
        const push = outcome.value as { image: string; repository: string; digest: string; tag?: string };
        const image = /^\d{12}\.dkr\.ecr\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?\/[a-z0-9]+([._/-][a-z0-9]+)*@sha256:[a-f0-9]{32,64}$/;
        return image.test(push.image) ? [] : [{ id, mutations, problem: `returned a malformed image ${JSON.stringify(push.image.slice(0, 120))}` }];
      });

      assertNone('parseImagePush', violations);
    });

    it('Initialize returns (Ignored or a plan) or throws a named error whose message names the path', () => {
      assertNone('Initialize (events)', contractViolations(initialized));
    });

    it('Initialize refuses exactly what parseImagePush refuses, with the same error', () => {
      const violations = parsed.flatMap(({ id, mutations, outcome }, i): Violation[] => {
        if (outcome.kind !== 'threw') return [];
        const other = initialized[i].outcome;
        const same = other.kind === 'threw' && label(other) === label(outcome) && messageOf(other.error) === messageOf(outcome.error);
        return same ? [] : [{ id, mutations, problem: `parseImagePush threw ${label(outcome)} but Initialize gave ${label(other)}` }];
      });

      assertNone('Initialize vs parseImagePush', violations);
    });

    it('shows the planted secret in no error message', () => {
      assertNone('secret in Initialize (events) errors', secretInErrors(initialized));
    });

    it('makes only plans the state machine can run', () => {
      assertNone('plans (events)', planViolations(initialized));
    });

    it('writes nothing to the cluster, whatever it returns or throws', () => {
      assertNone('cluster writes (events)', writeViolations(initialized));
    });
  });

  describe(`${MANIFEST_CASES} generated manifest sets → parseManifestText and Initialize, with the valid event`, () => {
    const parsed: CaseResult[] = [];
    const initialized: CaseResult[] = [];

    beforeAll(async () => {
      let startedAt = Date.now();
      const cases = Array.from({ length: MANIFEST_CASES }, (_, i) => manifestCase(SEED, i, ctx));
      for (const [i, { mutations, value }] of cases.entries()) {
        parsed.push({ id: `manifests#${i}`, mutations, outcome: await outcomeOf(() => parseFiles(value)) });
      }
      summary('parseManifestText', parsed.map((c) => (c.outcome.kind === 'returned' ? 'loaded' : label(c.outcome))), startedAt);

      startedAt = Date.now();
      for (const [i, { mutations, value }] of cases.entries()) {
        const dir = join(root, `m${i}`);
        await writeManifests(dir, value);
        const initialize = createInitialize(depsFor(dir));
        initialized.push(await observe(`manifests#${i}`, mutations, () => initialize({ event: JSON.parse(EVENT_FIXTURE_TEXT), execution: EXECUTION })));
      }
      planOutputs.push(...initialized);
      summary('Initialize (manifests)', initialized, startedAt);
    }, 120_000);

    it('exercises every manifest mutation family', () => {
      const seen = new Set(parsed.flatMap((c) => c.mutations.map((m) => m.split(':')[0])));

      expect(MANIFEST_FAMILIES.filter((family) => !seen.has(family))).toEqual([]);
    });

    it('parseManifestText loads the files or throws a SpecValidationError naming the file and the path', () => {
      const violations = parsed.flatMap(({ id, mutations, outcome }): Violation[] => {
        if (outcome.kind === 'returned') return [];
        const error = outcome.error;
        if (!(error instanceof Error) || error.name !== 'SpecValidationError') {
          return [{ id, mutations, problem: `threw ${label(outcome)}: ${messageOf(error).slice(0, 160)}${error instanceof Error ? ` at ${stackTop(error)}` : ''}` }];
        }
        const problem = pathProblem(error);
        return problem ? [{ id, mutations, problem: `${problem}: ${error.message.slice(0, 160)}` }] : [];
      });

      assertNone('parseManifestText', violations);
    });

    it('Initialize returns (Ignored or a plan) or throws a named error whose message names the path', () => {
      assertNone('Initialize (manifests)', contractViolations(initialized));
    });

    it('parseManifestText shows the planted secret in no error message', () => {
      assertNone('secret in parseManifestText errors', secretInErrors(parsed));
    });

    it('Initialize shows the planted secret in no error message', () => {
      assertNone('secret in Initialize (manifests) errors', secretInErrors(initialized));
    });

    it('makes only plans the state machine can run', () => {
      assertNone('plans (manifests)', planViolations(initialized));
    });

    it('writes nothing to the cluster, whatever it returns or throws', () => {
      assertNone('cluster writes (manifests)', writeViolations(initialized));
    });
  });

  describe(`${MACHINE_EVENT_CASES + MACHINE_MANIFEST_CASES} malformed payloads → the state machine (runRollout, the real definition)`, () => {
    interface MachineCase {
      readonly id: string;
      readonly mutations: readonly string[];
      /** Initialize called directly with the same payload and manifests, and what that wrote. */
      readonly direct: CaseResult;
      /** The execution, and what it wrote. */
      readonly run: CaseResult;
    }
    const runs: MachineCase[] = [];
    let stillValid = 0;

    beforeAll(async () => {
      const startedAt = Date.now();
      const payloads: { id: string; deps: ReturnType<typeof depsFor>; mutations: readonly string[]; event: unknown }[] = [];
      const eventDeps = depsFor(validDir);
      for (let i = 0; i < MACHINE_EVENT_CASES; i++) {
        const { mutations, value } = malformedEventCase(SEED, i);
        payloads.push({ id: `machine-events#${i}`, deps: eventDeps, mutations, event: value });
      }
      const send = async ({ id, deps, mutations, event }: (typeof payloads)[number]) => {
        const direct = await observe(id, mutations, () => createInitialize(deps)({ event, execution: EXECUTION }));
        if (label(direct.outcome) === 'plan') {
          // A mutation left this manifest set valid: it would start a real rollout, which is not this test's business.
          stillValid++;
          return;
        }
        const run = await observe(id, mutations, () => runRollout({ deps, event, timeFactor: 0.0005, retryIntervalMs: 10 }));
        runs.push({ id, mutations, direct, run });
      };
      for (const payload of payloads) await send(payload);
      for (let i = 0; runs.length < MACHINE_EVENT_CASES + MACHINE_MANIFEST_CASES && i < MACHINE_MANIFEST_CASES * 10; i++) {
        const set: Mutated<ManifestFiles> = manifestCase(SEED, i, ctx, 'machine-manifests');
        const dir = join(root, `sm${i}`);
        await writeManifests(dir, set.value);
        await send({ id: `machine-manifests#${i}`, deps: depsFor(dir), mutations: set.mutations, event: JSON.parse(EVENT_FIXTURE_TEXT) });
      }
      summary(
        'runRollout',
        runs.map(({ run }) => {
          if (run.outcome.kind === 'threw') return `thrown ${label(run.outcome)}`;
          const result = run.outcome.value as RunResult;
          return `${result.outcome}${result.error ? ` ${result.error}` : ''}`;
        }),
        startedAt,
      );
      if (stillValid > 0) console.log(`[fuzz] runRollout: ${stillValid} generated manifest set(s) were still valid and were not sent`);
    }, 120_000);

    it(`sends at least ${MACHINE_EVENT_CASES + MACHINE_MANIFEST_CASES} malformed payloads`, () => {
      expect(runs.length).toBeGreaterThanOrEqual(MACHINE_EVENT_CASES + MACHINE_MANIFEST_CASES);
    });

    it('ends every run Rejected or Ignored, never with a thrown exception, never past Initialize', () => {
      const violations = runs.flatMap(({ id, mutations, run }): Violation[] => {
        if (run.outcome.kind === 'threw') return [{ id, mutations, problem: `runRollout threw ${label(run.outcome)}: ${messageOf(run.outcome.error).slice(0, 160)}` }];
        const result = run.outcome.value as RunResult;
        if (result.outcome !== 'rejected' && result.outcome !== 'ignored') {
          return [{ id, mutations, problem: `outcome ${result.outcome} (${result.error ?? ''}: ${(result.cause ?? '').slice(0, 120)})` }];
        }
        const beyond = result.statesEntered.filter((state) => !['ReceivePush', 'Initialize', 'IsIgnored', 'Ignored', 'Rejected'].includes(state));
        return beyond.length ? [{ id, mutations, problem: `entered ${beyond.join(', ')}` }] : [];
      });

      assertNone('runRollout', violations);
    });

    it('writes nothing to the cluster, neither Initialize alone nor the execution', () => {
      const violations = runs.flatMap(({ id, mutations, direct, run }): Violation[] =>
        [...(direct.writes ?? []), ...(run.writes ?? [])].map((w) => ({ id, mutations, problem: `wrote ${w.method} ${w.path}` })),
      );

      assertNone('cluster writes (state machine)', violations);
    });

    it('gives the verdict Initialize gives when called directly: the error name, or Ignored', () => {
      const violations = runs.flatMap(({ id, mutations, direct, run }): Violation[] => {
        if (run.outcome.kind === 'threw') return [];
        const result = run.outcome.value as RunResult;
        // aws-local-stepfunctions cannot read "$" of a null input (States.Runtime in ReceivePush); EventBridge never sends null.
        if (result.error === 'States.Runtime' && result.statesEntered.join() === 'ReceivePush') return [];
        const expected = label(direct.outcome) === 'Ignored' ? 'ignored' : `rejected ${label(direct.outcome)}`;
        const actual = result.outcome === 'ignored' ? 'ignored' : `${result.outcome} ${result.error}`;
        return expected === actual ? [] : [{ id, mutations, problem: `Initialize alone: ${expected}; the state machine: ${actual} (${(result.cause ?? '').slice(0, 100)})` }];
      });

      assertNone('runRollout vs Initialize', violations);
    });

    it('shows the planted secret in no Rejected cause', () => {
      const violations = runs.flatMap(({ id, mutations, run }): Violation[] => {
        if (run.outcome.kind !== 'returned') return [];
        const cause = (run.outcome.value as RunResult).cause ?? '';
        const at = cause.indexOf(secretIn(cause) ?? '\u0000');
        return at >= 0 ? [{ id, mutations, problem: `cause shows the secret: ${cause.slice(0, 160)}`, kind: secretContext(cause.slice(0, at)) }] : [];
      });

      assertNone('secret in Rejected causes', violations);
    });
  });

  it('keeps the planted secret out of every Initialize output (it lands in the execution history)', () => {
    assertNone('secret in Initialize outputs', secretInOutputs(planOutputs));
  });

  it('the cluster saw reads and not one write during the whole fuzz run', () => {
    const writes = emulator.requests.filter(isWrite);

    expect(emulator.requests.filter((request) => request.method === 'GET').length).toBeGreaterThan(0);
    expect(writes.map((w) => `${w.method} ${w.path} ${JSON.stringify(w.body ?? null).slice(0, 200)}`)).toEqual([]);
  });
});
