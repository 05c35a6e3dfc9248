// Go-style durations as Flagger writes them, converted to seconds and back.
import { describe, expect, it } from 'vitest';
import { parseDurationSeconds } from '../../lambdas/core/duration';

describe('parseDurationSeconds', () => {
  it.each([
    ['1m', 60],
    ['30s', 30],
    ['1h', 3600],
    ['1h30m', 5400],
    ['2m30s', 150],
    ['500ms', 0.5],
    ['1.5m', 90],
    [' 1m ', 60],
    ['0s', 0],
  ])('reads %j as %d seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(['', '   ', '1', '1 minute', '1mx', 'm', '-1m', '1d', '1m 30s'])('rejects %j', (text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });

  it('gives the same answer after a rejected duration', () => {
    // Prepare
    parseDurationSeconds('1mx');

    // Act
    const seconds = parseDurationSeconds('2m');

    // Assess
    expect(seconds).toBe(120);
  });
});
