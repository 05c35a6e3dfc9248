import { describe, expect, it } from 'vitest';
import { decideLock, isStale, staleAfterSeconds, supersededBy } from '../../lambdas/core/lock';
import type { LockRecord } from '../../lambdas/ports/rollout-lock';

const now = new Date('2026-11-22T10:00:00Z');
const held = (execution: string, image: string, heartbeatAt = '2026-11-22T09:59:00Z'): LockRecord => ({
  execution,
  image,
  acquiredAt: '2026-11-22T09:50:00Z',
  heartbeatAt,
});

describe('the rollout lock rules', () => {
  it('takes a free target', () => {
    expect(decideLock(undefined, 'b', 'web@sha256:2', now, 600)).toEqual({ kind: 'take' });
  });

  it('calls a push of the image a live rollout is rolling out a duplicate', () => {
    const holder = held('a', 'web@sha256:1');
    expect(decideLock(holder, 'b', 'web@sha256:1', now, 600)).toEqual({ kind: 'duplicate', holder });
  });

  it('supersedes a live rollout of another image', () => {
    const holder = held('a', 'web@sha256:1');
    expect(decideLock(holder, 'b', 'web@sha256:2', now, 600)).toEqual({ kind: 'take', supersedes: holder });
  });

  it('takes over an abandoned lock, even for the same image, once its heartbeat is older than the stale limit', () => {
    const abandoned = held('a', 'web@sha256:1', '2026-11-22T09:49:59Z');
    expect(isStale(abandoned, now, 600)).toBe(true);
    expect(decideLock(abandoned, 'b', 'web@sha256:1', now, 600)).toEqual({ kind: 'take' });
    expect(isStale(held('a', 'x', '2026-11-22T09:50:00Z'), now, 600)).toBe(false);
  });

  it('keeps its own lock on a retried Initialize', () => {
    expect(decideLock(held('a', 'web@sha256:1'), 'a', 'web@sha256:1', now, 600)).toEqual({ kind: 'take' });
  });

  it('waits three intervals plus the progress deadline, and at least 10 minutes, before calling a lock stale', () => {
    expect(staleAfterSeconds(60, 600)).toBe(780);
    expect(staleAfterSeconds(10, 60)).toBe(600);
  });

  it('names the newer holder when this execution no longer holds the lock', () => {
    expect(supersededBy(held('b', 'x'), 'a')?.execution).toBe('b');
    expect(supersededBy(held('a', 'x'), 'a')).toBeUndefined();
    expect(supersededBy(undefined, 'a')).toBeUndefined();
  });
});
