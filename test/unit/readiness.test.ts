// Readiness rules: when a Deployment's rollout counts as done, and when waiting for it has gone on too long.
import { describe, expect, it } from 'vitest';
import { readiness } from '../../lambdas/core/readiness';
import type { RolloutProgress } from '../../lambdas/ports/workloads';

const IMAGE = `123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:${'a'.repeat(64)}`;
const SINCE = new Date('2026-11-16T02:00:00.000Z');
const after = (seconds: number) => new Date(SINCE.getTime() + seconds * 1000);

function progress(overrides: Partial<RolloutProgress> = {}): RolloutProgress {
  return { complete: false, deadlineExceeded: false, replicas: 3, updatedReplicas: 2, availableReplicas: 1, image: IMAGE, ...overrides };
}

describe('readiness', () => {
  it('is ready when the rollout is complete with the expected image', () => {
    expect(readiness(progress({ complete: true, availableReplicas: 3, updatedReplicas: 3 }), IMAGE, SINCE, after(30), 600)).toEqual({
      kind: 'ready',
    });
  });

  it('fails when the Deployment runs another image, even if complete', () => {
    // Act
    const result = readiness(progress({ complete: true, image: 'web:1.4.1' }), IMAGE, SINCE, after(30), 600);

    // Assess
    expect(result).toEqual({ kind: 'failed', detail: `runs image web:1.4.1, expected ${IMAGE}` });
  });

  it('fails when the Deployment reports ProgressDeadlineExceeded, before the Canary deadline', () => {
    // Act
    const result = readiness(progress({ deadlineExceeded: true }), IMAGE, SINCE, after(120), 600);

    // Assess
    expect(result).toEqual({ kind: 'failed', detail: 'progress deadline exceeded (1/3 available, 2 updated)' });
  });

  it('fails once the deadline has passed since waiting began', () => {
    // Act
    const result = readiness(progress(), IMAGE, SINCE, after(601.9), 600);

    // Assess
    expect(result).toEqual({ kind: 'failed', detail: 'not ready after 601s, deadline 600s (1/3 available, 2 updated)' });
  });

  it('fails exactly at the deadline', () => {
    expect(readiness(progress(), IMAGE, SINCE, after(600), 600).kind).toBe('failed');
  });

  it('keeps waiting before the deadline, with the counts', () => {
    // Act
    const result = readiness(progress(), IMAGE, SINCE, after(599.9), 600);

    // Assess
    expect(result).toEqual({ kind: 'waiting', detail: '1/3 available, 2 updated after 599s' });
  });

  it('is ready when complete even past the deadline', () => {
    expect(readiness(progress({ complete: true }), IMAGE, SINCE, after(900), 600)).toEqual({ kind: 'ready' });
  });
});
