// Runs statemachine/rollout.asl.json on this machine with aws-local-stepfunctions, its Task states served by the real handlers.
import './polyfills';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StateMachine } from 'aws-local-stepfunctions';
import { parseImagePush } from '../lambdas/core/ecr-event';
import type { RolloutStatus } from '../lambdas/core/rollout';
import { matchTarget } from '../lambdas/core/targets';
import { createAnalyzeMetrics } from '../lambdas/handlers/analyze-metrics';
import { createCreateCanary } from '../lambdas/handlers/create-canary';
import type { HandlerDeps } from '../lambdas/handlers/deps';
import { createFinalizePromotion } from '../lambdas/handlers/finalize-promotion';
import { createInitialize } from '../lambdas/handlers/initialize';
import { createNotifyRollbackFailed } from '../lambdas/handlers/notify-rollback-failed';
import { createPromote } from '../lambdas/handlers/promote';
import { createRollback } from '../lambdas/handlers/rollback';
import { createShiftWeight } from '../lambdas/handlers/shift-weight';
import { createConfirmGate } from '../lambdas/handlers/confirm-gate';
import { createWaitForCanaryReady } from '../lambdas/handlers/wait-for-canary-ready';
import { createWaitForStableRollout } from '../lambdas/handlers/wait-for-stable-rollout';

/** One entry of the interpreter's execution event log. */
export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export const DEFINITION_PATH = fileURLToPath(new URL('../statemachine/rollout.asl.json', import.meta.url));

/** Each `${…FunctionArn}` placeholder of the definition and the handler behind it, as CDK wires them on AWS. */
const HANDLERS: Record<string, (deps: HandlerDeps) => (input: never) => Promise<unknown>> = {
  InitializeFunctionArn: createInitialize,
  CreateCanaryFunctionArn: createCreateCanary,
  WaitForCanaryReadyFunctionArn: createWaitForCanaryReady,
  ShiftWeightFunctionArn: createShiftWeight,
  ConfirmGateFunctionArn: createConfirmGate,
  AnalyzeMetricsFunctionArn: createAnalyzeMetrics,
  PromoteFunctionArn: createPromote,
  WaitForStableRolloutFunctionArn: createWaitForStableRollout,
  FinalizePromotionFunctionArn: createFinalizePromotion,
  RollbackFunctionArn: createRollback,
  NotifyRollbackFailedFunctionArn: createNotifyRollbackFailed,
};

export type Outcome = 'promoted' | 'rolled_back' | 'ignored' | 'superseded' | 'rejected' | 'rollback_failed';

export interface RunResult {
  readonly outcome: Outcome;
  /** The last rollout status any state put out. */
  readonly status?: RolloutStatus;
  /** Failure name and cause for the Fail states. */
  readonly error?: string;
  readonly cause?: string;
  /** Every state entered, in order. */
  readonly statesEntered: string[];
}

export interface RunOptions {
  readonly deps: HandlerDeps;
  /** The execution input: the ECR push event. */
  readonly event: unknown;
  /** Demo time per real time: 0.1 turns a 1m bake into 6 s. @default 1 */
  readonly timeFactor?: number;
  /** Every execution event as it happens, for the live view. */
  readonly onEvent?: (event: EventLog) => void;
  /** Pause before a retry, in ms. @default 2000 × timeFactor */
  readonly retryIntervalMs?: number;
  /** The execution's name, as Step Functions would give it. @default a random UUID */
  readonly executionName?: string;
}

interface AslState {
  Type: string;
  Resource?: string;
  Seconds?: number;
}

/** The definition with each Lambda placeholder replaced by a function ARN, as CDK's definitionSubstitutions do. */
export function loadDefinition(): { definition: { States: Record<string, AslState> }; taskFunctions: Record<string, string> } {
  const text = readFileSync(DEFINITION_PATH, 'utf8');
  const definition = JSON.parse(
    text.replace(/\$\{(\w+)FunctionArn\}/g, (_m, name: string) => `arn:aws:lambda:us-east-1:123456789012:function:fledge-${name}`),
  ) as { States: Record<string, AslState> };
  const raw = JSON.parse(text) as { States: Record<string, AslState> };
  const taskFunctions: Record<string, string> = {};
  for (const [name, state] of Object.entries(raw.States)) {
    const placeholder = state.Type === 'Task' ? /^\$\{(\w+)\}$/.exec(state.Resource ?? '')?.[1] : undefined;
    if (placeholder) taskFunctions[name] = placeholder;
  }
  return { definition, taskFunctions };
}

/** The Bake wait is the Canary's interval: read it the way Initialize will, to scale it. */
async function bakeSeconds(deps: HandlerDeps, event: unknown): Promise<number | undefined> {
  try {
    const match = matchTarget((await deps.loadManifests()).canaries, parseImagePush(event));
    return match.kind === 'matched' ? match.canary.analysis.intervalSeconds : undefined;
  } catch {
    return undefined; // Initialize will report the problem itself.
  }
}

/** The outcome from how the execution ended: which Succeed state (by the phase), or which Fail state. */
function outcomeOf(error: string | undefined, phase: string | undefined): Outcome {
  switch (error) {
    case undefined:
      return phase === 'Ignored' ? 'ignored' : phase === 'Superseded' ? 'superseded' : 'promoted';
    case 'RolledBack':
      return 'rolled_back';
    case 'RollbackFailed':
      return 'rollback_failed';
    default:
      return 'rejected';
  }
}

// Checking the definition takes the interpreter 100–400 ms; the file does not change while a process runs.
let machine: StateMachine | undefined;

/** Run one execution of the real definition to its end. */
export async function runRollout(options: RunOptions): Promise<RunResult> {
  const timeFactor = options.timeFactor ?? 1;
  const { definition, taskFunctions } = loadDefinition();
  const handlers: Record<string, (input: never) => Promise<never>> = {};
  for (const [stateName, placeholder] of Object.entries(taskFunctions)) {
    const create = HANDLERS[placeholder];
    if (!create) throw new Error(`no local handler for ${placeholder} (state ${stateName})`);
    handlers[stateName] = create(options.deps) as (input: never) => Promise<never>;
  }
  const waits: Record<string, number> = {};
  const retries: Record<string, number> = {};
  const bake = await bakeSeconds(options.deps, options.event);
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Wait' && state.Seconds !== undefined) waits[name] = state.Seconds * 1000 * timeFactor;
    if (state.Type === 'Wait' && state.Seconds === undefined && bake !== undefined) waits[name] = bake * 1000 * timeFactor;
    if (state.Type === 'Task') retries[name] = options.retryIntervalMs ?? 2000 * timeFactor;
  }

  machine ??= new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const name = options.executionName ?? randomUUID();
  const execution = machine.run(options.event as never, {
    context: {
      Execution: {
        Id: `arn:aws:states:us-east-1:123456789012:execution:fledge-rollout:${name}`,
        Name: name,
        Input: options.event,
        StartTime: new Date().toISOString(),
      },
    } as never,
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      waitTimeOverrides: waits,
      retryIntervalOverrides: retries,
    },
  });

  const statesEntered: string[] = [];
  let status: RolloutStatus | undefined;
  let error: string | undefined;
  let cause: string | undefined;
  for await (const event of execution.eventLogs) {
    options.onEvent?.(event);
    if (event.type === 'StateEntered') statesEntered.push(event.state.name);
    if (event.type === 'StateExited') {
      const output = event.state.output as { status?: RolloutStatus } | undefined;
      if (output && typeof output === 'object' && output.status) status = output.status;
    }
    if (event.type === 'ExecutionFailed') {
      error = String(event.Error);
      cause = event.Cause === undefined ? undefined : String(event.Cause);
    }
  }
  try {
    await execution.result;
  } catch {
    // The failure is in the event log already.
  }
  return { outcome: outcomeOf(error, status?.phase), status, error, cause, statesEntered };
}
