// Flagger webhooks: the payload Fledge posts, and a hook's answer as a check that counts like a metric.
import type { CheckResult } from './analysis';
import type { WebhookSpec, WebhookType } from './spec';

/** Flagger's webhook payload: the Canary, its phase and the hook's metadata. */
export interface WebhookPayload {
  readonly name: string;
  readonly namespace: string;
  readonly phase: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export type WebhookOutcome = { readonly kind: 'ok' } | { readonly kind: 'error'; readonly message: string };

export function webhookPayload(canary: string, hook: WebhookSpec, phase: string): WebhookPayload {
  const [namespace, name] = canary.split('/');
  return { name, namespace, phase, metadata: hook.metadata };
}

/**
 * Flagger's event webhook payload: the event in `metadata` (`eventMessage`, `eventType`, and
 * `timestamp` in Unix milliseconds), the hook's own metadata added where it names other keys.
 */
export function eventPayload(
  canary: string,
  hook: WebhookSpec,
  phase: string,
  event: { readonly type: string; readonly message: string },
  now: Date,
): WebhookPayload {
  const [namespace, name] = canary.split('/');
  const metadata = { ...hook.metadata, eventMessage: event.message, eventType: event.type, timestamp: String(now.getTime()) };
  return { name, namespace, phase, metadata };
}

export function hooksOfType(hooks: readonly WebhookSpec[], type: WebhookType): WebhookSpec[] {
  return hooks.filter((hook) => hook.type === type);
}

/** A hook's answer as a check: a failing rollout hook counts toward the threshold, as in Flagger. */
export function webhookCheck(hook: WebhookSpec, outcome: WebhookOutcome): CheckResult {
  const metric = `${hook.name} webhook`;
  return outcome.kind === 'ok'
    ? { metric, value: null, verdict: 'pass', detail: `${metric} succeeded` }
    : { metric, value: null, verdict: 'fail', detail: `${metric} failed: ${outcome.message}` };
}
