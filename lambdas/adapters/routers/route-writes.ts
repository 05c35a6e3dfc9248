// What the routers share: read-modify-write retried on 409, and weights read back as percentages that every matching rule agrees on.
import { KubernetesTransientError, TrafficDriftError } from '../../core/errors';
import type { Weights } from '../../ports/traffic-router';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` (read, change, write) until it reports done; a 'conflict' (409: the object
 * changed between read and write) is tried again after a jittered backoff, up to `attempts`
 * times, then fails as a KubernetesTransientError, which the state machine retries.
 */
export async function retryOnConflict(
  attempts: number,
  backoffMs: number,
  attempt: () => Promise<'done' | 'conflict'>,
  failure: { readonly action: string; readonly noun: string },
): Promise<void> {
  for (let n = 1; n <= attempts; n++) {
    if ((await attempt()) === 'done') return;
    if (n < attempts) await sleep(backoffMs * 2 ** (n - 1) * (0.5 + Math.random() / 2));
  }
  throw new KubernetesTransientError(
    `${failure.action} failed: 409 Conflict on each of ${attempts} attempts (the ${failure.noun} kept changing between read and write)`,
  );
}

/** Relative backend weights as percentages; all-zero weights send no traffic at all, reported as 0/0 rather than an invented split. */
export function percentages(stableWeight: number, canaryWeight: number): Weights {
  const total = stableWeight + canaryWeight;
  if (total === 0) return { primary: 0, canary: 0 };
  const primary = Math.round((stableWeight * 100) / total);
  return { primary, canary: 100 - primary };
}

/** The weights every matching rule has; rules that disagree are drift, named one by one. */
export function agreedWeights(perRule: readonly Weights[], label: (index: number) => string, disagreement: string): Weights {
  const [first] = perRule;
  if (perRule.some((w) => w.primary !== first.primary || w.canary !== first.canary)) {
    throw new TrafficDriftError(`${disagreement} (${perRule.map((w, i) => `${label(i)}: ${w.primary}/${w.canary}`).join(', ')})`);
  }
  return first;
}
