// The live execution view: each state entered, the weight, each metric against its bound, the decision.
import type { RolloutStatus } from '../lambdas/core/rollout';
import type { EventLog } from './runner';

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

export interface ViewOptions {
  readonly color: boolean;
  readonly startedAt: number;
}

function paint(on: boolean, color: string, text: string): string {
  return on ? `${color}${text}${RESET}` : text;
}

function statusOf(output: unknown): RolloutStatus | undefined {
  return output && typeof output === 'object' && 'status' in output ? (output as { status: RolloutStatus }).status : undefined;
}

/** One execution event as lines a person reads; undefined for events the view leaves out. */
export function describeEvent(event: EventLog, options: ViewOptions): string[] | undefined {
  const clock = paint(options.color, DIM, `+${((event.timestamp - options.startedAt) / 1000).toFixed(1).padStart(5)}s`);
  const line = (state: string, text: string) => `${clock} ${state.padEnd(24)} ${text}`;
  switch (event.type) {
    case 'StateExited': {
      const { name, type } = event.state;
      const status = statusOf(event.state.output);
      if (!status || (type !== 'Task' && type !== 'Choice')) return undefined;
      if (name === 'AnalyzeMetrics') {
        const checks = (status.lastAnalysis ?? []).map((record) => {
          const mark = record.verdict === 'pass' ? paint(options.color, GREEN, '✓') : paint(options.color, RED, '✗');
          return `${' '.repeat(32)}${mark} ${record.detail}`;
        });
        const decision = status.decision === 'rollback' ? RED : status.decision === 'hold' ? YELLOW : GREEN;
        return [
          line(name, `at canary weight ${status.weight}%, failed checks ${status.failedChecks}`),
          ...checks,
          `${' '.repeat(32)}→ ${paint(options.color, decision, status.decision ?? '')}`,
        ];
      }
      if (type === 'Choice') return undefined;
      return [line(name, status.reason ?? status.phase)];
    }
    case 'StateEntered':
      return event.state.type === 'Wait' && event.state.name === 'Bake' ? [line('Bake', 'traffic flows for the analysis interval')] : undefined;
    case 'StateRetried':
      return [line(event.state.name, paint(options.color, YELLOW, `retrying (attempt ${event.retry.attempt})`))];
    case 'StateFailed':
      // A Fail state's failure is the execution's: ExecutionFailed shows it once.
      if (event.state.type === 'Fail') return undefined;
      return [line(event.state.name, paint(options.color, RED, `${String(event.Error)}: ${String(event.Cause ?? '')}`))];
    case 'ExecutionSucceeded': {
      const status = statusOf(event.output);
      return [line(status?.phase ?? 'Succeeded', paint(options.color, GREEN, status?.reason ?? 'done'))];
    }
    case 'ExecutionFailed':
      return [line(String(event.Error), paint(options.color, RED, String(event.Cause ?? '')))];
    default:
      return undefined;
  }
}
