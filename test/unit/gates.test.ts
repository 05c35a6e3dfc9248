// Flagger's gates: which confirm-* webhooks stand before the next move, when a gate is open, and what a rollback webhook's answer means.
import { describe, expect, it } from 'vitest';
import { afterAsk, gateBefore, gateStatus, isGated, MAX_CLOSED_ASKS, rollbackRequest } from '../../lambdas/core/gates';
import type { WebhookSpec, WebhookType } from '../../lambdas/core/spec';

const hook = (name: string, type: WebhookType): WebhookSpec => ({ name, type, url: `http://hooks/${name}`, timeoutSeconds: 5, metadata: {} });
const plan = (...types: WebhookType[]) => ({ steps: [10, 20, 30], webhooks: types.map((type) => hook(type, type)) });
const start = { weights: [], decision: undefined, stepIndex: -1, weight: 0 };

describe('gateBefore', () => {
  it('puts confirm-rollout before any traffic moves', () => {
    expect(gateBefore(plan('confirm-rollout', 'confirm-promotion'), start)).toBe('confirm-rollout');
  });

  it('puts confirm-rollout, not confirm-promotion, before a promotion with skipAnalysis, as Flagger skips its promotion gate', () => {
    expect(gateBefore(plan('confirm-rollout', 'confirm-promotion'), { ...start, decision: 'promote' })).toBe('confirm-rollout');
    expect(gateBefore(plan('confirm-promotion'), { ...start, decision: 'promote' })).toBeUndefined();
  });

  it('puts confirm-traffic-increase before a step that raises the weight, and nothing before holding it', () => {
    const passed = { weights: [10], stepIndex: 0, weight: 10 };
    expect(gateBefore(plan('confirm-traffic-increase'), { ...passed, decision: 'continue' })).toBe('confirm-traffic-increase');
    expect(gateBefore(plan('confirm-traffic-increase'), { ...passed, decision: 'hold' })).toBeUndefined();
  });

  it('puts confirm-traffic-increase only before a raise: blue/green iterations at 0 need none', () => {
    const blueGreen = { steps: [0, 0, 100], webhooks: [hook('more', 'confirm-traffic-increase')] };
    expect(gateBefore(blueGreen, { weights: [0], stepIndex: 0, weight: 0, decision: 'continue' })).toBeUndefined();
    expect(gateBefore(blueGreen, { weights: [0], stepIndex: 1, weight: 0, decision: 'continue' })).toBe('confirm-traffic-increase');
  });

  it('puts confirm-promotion before the promotion', () => {
    expect(gateBefore(plan('confirm-promotion'), { weights: [10, 20, 30], stepIndex: 2, weight: 30, decision: 'promote' })).toBe('confirm-promotion');
  });

  it('finds no gate when the Canary has no hook of the type that would stand there', () => {
    expect(gateBefore(plan('rollout', 'confirm-promotion'), start)).toBeUndefined();
  });
});

describe('gateStatus', () => {
  it('is open when every hook of the type approves', () => {
    expect(gateStatus('confirm-promotion', [{ hook: hook('a', 'confirm-promotion'), outcome: { kind: 'ok' } }])).toEqual({ type: 'confirm-promotion', open: true });
  });

  it('is closed while any hook does not approve, naming it and its answer', () => {
    const status = gateStatus('confirm-promotion', [
      { hook: hook('a', 'confirm-promotion'), outcome: { kind: 'ok' } },
      { hook: hook('b', 'confirm-promotion'), outcome: { kind: 'error', message: 'answered HTTP 403' } },
    ]);
    expect(status).toEqual({ type: 'confirm-promotion', open: false, detail: 'confirm-promotion webhook b: answered HTTP 403' });
  });
});

describe('afterAsk', () => {
  const closed = { type: 'confirm-promotion' as const, open: false, detail: 'confirm-promotion webhook a: answered HTTP 403' };

  it('counts the closed asks in a row, starting again for another gate', () => {
    const first = afterAsk(undefined, closed).gate;
    const second = afterAsk(first, closed).gate;
    expect([first.closedAsks, second.closedAsks]).toEqual([1, 2]);
    expect(afterAsk({ ...second, type: 'confirm-rollout' }, closed).gate.closedAsks).toBe(1);
  });

  it('gives up once the gate has been closed for as many asks as an execution\'s history can hold, saying why', () => {
    // Act
    const last = afterAsk({ ...closed, closedAsks: MAX_CLOSED_ASKS - 1 }, closed);

    // Assess
    expect(last.giveUp).toBe(`confirm-promotion webhooks did not approve in ${MAX_CLOSED_ASKS} asks: confirm-promotion webhook a: answered HTTP 403`);
    expect(afterAsk({ ...closed, closedAsks: MAX_CLOSED_ASKS - 2 }, closed).giveUp).toBeUndefined();
  });

  it('leaves an open gate as it is', () => {
    expect(afterAsk({ ...closed, closedAsks: 5 }, { type: 'confirm-promotion', open: true })).toEqual({ gate: { type: 'confirm-promotion', open: true } });
  });
});

describe('rollbackRequest', () => {
  it('is a request when a rollback hook answers 2xx, and none for any other answer', () => {
    expect(rollbackRequest([{ hook: hook('abort', 'rollback'), outcome: { kind: 'ok' } }])).toBe('rollback webhook abort asked for a rollback');
    expect(rollbackRequest([{ hook: hook('abort', 'rollback'), outcome: { kind: 'error', message: 'answered HTTP 404' } }])).toBeUndefined();
    expect(rollbackRequest([])).toBeUndefined();
  });
});

describe('isGated', () => {
  it('is true with any confirm-* hook and false with only other hooks', () => {
    expect(isGated(plan('rollout', 'confirm-traffic-increase').webhooks)).toBe(true);
    expect(isGated(plan('pre-rollout', 'rollout', 'post-rollout', 'rollback').webhooks)).toBe(false);
  });
});
