// The four demo scenarios end to end: emulator, pods, gateway, load, the real ASL and handlers, as `npm run demo` runs them.
import { describe, expect, it } from 'vitest';
import { STABLE_IMAGE, runDemo } from '../../local/demo-run';
import { prometheusBinary } from '../../local/prometheus-server';
import { requireTool } from '../helpers/require-tool';

const PUSHED = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234';
const TIME_FACTOR = 0.05; // a 1m interval bakes for 3 s

describe.concurrent('npm run demo', () => {
  it('promotes a healthy canary through 10, 20, 30, 40, 50% with no lost requests', async () => {
    const result = await runDemo({ scenario: 'healthy', timeFactor: TIME_FACTOR });

    expect(result.outcome).toBe('promoted');
    expect(result.weights).toEqual([10, 20, 30, 40, 50]);
    expect(result.failedChecks).toBe(0);
    expect(result.stableImage).toBe(PUSHED);
    expect(result.finalWeights).toEqual({ stable: 100, canary: 0 });
    expect(result.lostRequests).toBe(0);
  });

  it('rolls back a canary answering 20% 500s on error-rate', async () => {
    const result = await runDemo({ scenario: 'errors', timeFactor: TIME_FACTOR });

    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/^error-rate \d+(\.\d+)? > max 1 \(3\/3 consecutive failed checks at canary weight 10%\)$/);
    expect(result.failedChecks).toBe(3);
    expect(result.weights).toEqual([10]);
    expect(result.stableImage).toBe(STABLE_IMAGE);
    expect(result.finalWeights).toEqual({ stable: 100, canary: 0 });
    expect(result.lostRequests).toBe(0);
  });

  it('rolls back a slow canary on request-duration', async () => {
    const result = await runDemo({ scenario: 'slow', timeFactor: TIME_FACTOR });

    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/request-duration \d+ > max 500 \(3\/3 consecutive failed checks/);
    expect(result.reason).not.toContain('error-rate');
    expect(result.stableImage).toBe(STABLE_IMAGE);
    expect(result.finalWeights).toEqual({ stable: 100, canary: 0 });
  });

  it('rolls back a canary that gets no traffic (load tester down, clients bypassing the route) on no data', async () => {
    const result = await runDemo({ scenario: 'silent', timeFactor: TIME_FACTOR });

    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(
      /^load-test webhook failed: http:\/\/127\.0\.0\.1:\d+\/ is unreachable: ECONNREFUSED; error-rate: no data; request-duration: no data \(3\/3 consecutive failed checks at canary weight 10%\)$/,
    );
    expect(result.stableImage).toBe(STABLE_IMAGE);
    expect(result.finalWeights).toEqual({ stable: 100, canary: 0 });
  });
});

const prometheus = requireTool('prometheus', prometheusBinary() !== undefined);

describe.skipIf(prometheus.skip)('npm run demo -- --prometheus', () => {
  it('rolls back on the seed PromQL error-rate, scraped by a real Prometheus', async () => {
    const result = await runDemo({ scenario: 'errors', timeFactor: 0.1, prometheus: true });

    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/^error-rate \d+(\.\d+)? > max 1 \(3\/3 consecutive failed checks/);
    expect(result.finalWeights).toEqual({ stable: 100, canary: 0 });
  }, 90_000);
});
