// The rollout plan and status: metric resolution at plan time, bounded status, readable failure reasons.
import { describe, expect, it } from 'vitest';
import { SpecValidationError } from '../../lambdas/core/errors';
import { boundStatus, promotionBegun, reasonFromError, resolveMetrics, templateVariables, whenCanaryReady, windowOutsideBake } from '../../lambdas/core/rollout';
import type { AnalysisRecord, RolloutStatus } from '../../lambdas/core/rollout';
import type { ProviderSpec } from '../../lambdas/core/spec';
import { rolloutTarget } from '../../lambdas/core/targets';
import type { Document } from './seed';
import { seedCanary, seedMetricTemplate, thrown } from './seed';

const PROMETHEUS: ProviderSpec = { type: 'prometheus', address: 'http://prometheus.monitoring:9090' };
const WEB: ProviderSpec = { type: 'web', address: 'http://stats.prod:8080' };

/** resolveMetrics for the seed Canary as changed, with the seed MetricTemplate loaded. */
function resolveSeed(
  options: { change?: (document: Document) => void; templateQuery?: string; metricsServer?: ProviderSpec; noTemplates?: boolean } = {},
) {
  const canary = seedCanary(options.change);
  const template = seedMetricTemplate((document) => {
    if (options.templateQuery !== undefined) document.spec.query = options.templateQuery;
  });
  return resolveMetrics(canary, options.noTemplates ? [] : [template], options.metricsServer, rolloutTarget(canary));
}

function resolutionIssues(options: Parameters<typeof resolveSeed>[0]): { message: string; issues: readonly string[] } {
  const error = thrown(() => resolveSeed(options));
  expect(error).toBeInstanceOf(SpecValidationError);
  return { message: error.message, issues: (error as SpecValidationError).issues };
}

describe('resolveMetrics', () => {
  it('resolves a templateRef to its MetricTemplate and a builtin to the metrics server', () => {
    // Prepare
    const template = seedMetricTemplate();

    // Act
    const metrics = resolveSeed({ metricsServer: PROMETHEUS });

    // Assess
    expect(metrics).toHaveLength(2);
    expect(metrics[0]).toEqual({
      name: 'error-rate',
      provider: { type: 'prometheus', address: 'http://prometheus.monitoring:9090' },
      query: template.query,
      thresholdRange: { max: 1 },
      interval: '1m',
      intervalSeconds: 60,
      variables: {},
      source: 'MetricTemplate prod/error-rate',
    });
    expect(metrics[1]).toMatchObject({
      name: 'request-duration',
      provider: PROMETHEUS,
      source: 'builtin request-duration',
      thresholdRange: { max: 500 },
    });
    expect(metrics[1].query).toMatch(/^histogram_quantile\(0\.99, /);
  });

  it('gives a builtin on a web metrics server the preset JSON path', () => {
    // Act
    const [, duration] = resolveSeed({ metricsServer: WEB });

    // Assess
    expect(duration.provider).toEqual({ type: 'web', address: 'http://stats.prod:8080', jsonPath: '$.p99Ms' });
    expect(duration.query).toBe('/stats?namespace={{ namespace }}&workload={{ target }}&interval={{ interval }}');
  });

  it('runs an inline query on the metrics server', () => {
    // Act
    const [, inline] = resolveSeed({
      metricsServer: PROMETHEUS,
      change: (document) => {
        document.spec.analysis.metrics[1] = { name: 'p95', query: 'p95{pod=~"{{ target }}-.*"}', thresholdRange: { max: 300 } };
      },
    });

    // Assess
    expect(inline).toMatchObject({ name: 'p95', provider: PROMETHEUS, query: 'p95{pod=~"{{ target }}-.*"}', source: 'inline' });
  });

  it('names the missing MetricTemplate and the ones it has', () => {
    // Act
    const { message } = resolutionIssues({
      metricsServer: PROMETHEUS,
      change: (document) => {
        document.spec.analysis.metrics[0].templateRef = { name: 'error-ratio' };
      },
    });

    // Assess
    expect(message).toBe('Canary prod/web: spec.analysis.metrics[0].templateRef: MetricTemplate prod/error-ratio not found (loaded: prod/error-rate)');
  });

  it('looks for a MetricTemplate in the templateRef namespace, not by name alone', () => {
    // Act
    const { issues } = resolutionIssues({
      metricsServer: PROMETHEUS,
      change: (document) => {
        document.spec.analysis.metrics[0].templateRef = { name: 'error-rate', namespace: 'monitoring' };
      },
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.metrics[0].templateRef: MetricTemplate monitoring/error-rate not found (loaded: prod/error-rate)']);
  });

  it('says a builtin metric needs a metrics server when none is set', () => {
    // Act
    const { issues } = resolutionIssues({});

    // Assess
    expect(issues).toEqual([
      'spec.analysis.metrics[1]: metric "request-duration" runs on the metrics server, but none is set ' +
        "(spec.fledge.metricsServer or the deployment's metrics server)",
    ]);
  });

  it('refuses an inline query on a web metrics server', () => {
    // Act
    const { issues } = resolutionIssues({
      metricsServer: WEB,
      change: (document) => {
        document.spec.analysis.metrics[1] = { name: 'p95', query: 'p95', thresholdRange: { max: 300 } };
      },
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.metrics[1].query: an inline query needs a prometheus metrics server, got web']);
  });

  it('refuses a metric that is neither a templateRef, a query nor a builtin', () => {
    // Act
    const { issues } = resolutionIssues({
      metricsServer: PROMETHEUS,
      change: (document) => {
        document.spec.analysis.metrics[1].name = 'latency';
      },
    });

    // Assess
    expect(issues).toEqual([
      'spec.analysis.metrics[1]: metric "latency" has no templateRef or query and is not a builtin (request-success-rate, request-duration)',
    ]);
  });

  it('fails at plan time on a template that uses an undefined variable', () => {
    // Act
    const { issues } = resolutionIssues({ metricsServer: PROMETHEUS, templateQuery: 'errors{env="{{ variables.env }}"}' });

    // Assess
    expect(issues).toEqual([
      'spec.analysis.metrics[0] (MetricTemplate prod/error-rate): {{ variables.env }} is not defined in templateVariables (defined: none)',
    ]);
  });

  it('fails at plan time on a template that uses an unknown placeholder', () => {
    // Act
    const { issues } = resolutionIssues({ metricsServer: PROMETHEUS, templateQuery: 'errors{pod="{{ pod }}"}' });

    // Assess
    expect(issues).toEqual([
      'spec.analysis.metrics[0] (MetricTemplate prod/error-rate): unknown template variable {{ pod }} ' +
        '(known: name, ingress, target, stable, namespace, service, interval, variables.NAME; with the alb router: targetGroup, loadBalancer)',
    ]);
  });

  it('accepts the variable once the metric defines it in templateVariables', () => {
    // Act
    const [errorRate] = resolveSeed({
      metricsServer: PROMETHEUS,
      templateQuery: 'errors{env="{{ variables.env }}"}',
      change: (document) => {
        document.spec.analysis.metrics[0].templateVariables = { env: 'production' };
      },
    });

    // Assess
    expect(errorRate.variables).toEqual({ env: 'production' });
  });

  it('reports every unresolvable metric at once', () => {
    // Act
    const { issues } = resolutionIssues({ noTemplates: true });

    // Assess
    expect(issues).toEqual([
      'spec.analysis.metrics[0].templateRef: MetricTemplate prod/error-rate not found (loaded: none)',
      'spec.analysis.metrics[1]: metric "request-duration" runs on the metrics server, but none is set ' +
        "(spec.fledge.metricsServer or the deployment's metrics server)",
    ]);
  });
});

describe('templateVariables', () => {
  it('points target at the canary Deployment and stable at the stable one', () => {
    // Prepare
    const canary = seedCanary((document) => {
      document.spec.service.name = 'web-svc';
    });

    // Act
    const vars = templateVariables({ target: rolloutTarget(canary), canary: 'prod/web' }, { interval: '2m', variables: { env: 'production' } });

    // Assess
    expect(vars).toEqual({
      name: 'web',
      ingress: 'web-svc',
      target: 'web-canary',
      stable: 'web',
      namespace: 'prod',
      service: 'web-svc',
      interval: '2m',
      variables: { env: 'production' },
    });
  });
});

describe('boundStatus', () => {
  const bigQuery = `sum(rate(http_requests_total{pod=~"${'x'.repeat(10_000)}"}[1m]))`;

  function record(i: number): AnalysisRecord {
    return {
      metric: `metric-${i}`,
      value: 18.7,
      max: 1,
      verdict: 'fail',
      detail: `metric-${i} 18.7 > max 1 ${'y'.repeat(10_000)}`,
      query: bigQuery,
      windowSeconds: 60,
      weight: 20,
      time: '2026-11-16T02:00:00.000Z',
    };
  }

  function hugeStatus(): RolloutStatus {
    return {
      phase: 'Progressing',
      stepIndex: 1,
      weight: 20,
      weights: Array.from({ length: 200 }, (_, i) => i % 100),
      failedChecks: 3,
      decision: 'rollback',
      reason: 'r'.repeat(50_000),
      lastAnalysis: Array.from({ length: 50 }, (_, i) => record(i)),
      updatedAt: '2026-11-16T02:00:00.000Z',
    };
  }

  it('keeps a status with 50 metrics and 10 kB queries under 24 kB of JSON', () => {
    // Prepare
    const status = hugeStatus();

    // Act
    const bounded = boundStatus(status);

    // Assess
    expect(JSON.stringify(status).length).toBeGreaterThan(1_000_000);
    expect(JSON.stringify(bounded).length).toBeLessThan(24_000);
  });

  it('clips queries, details and the reason with an ellipsis, and keeps the latest weights', () => {
    // Act
    const bounded = boundStatus(hugeStatus());

    // Assess
    expect(bounded.lastAnalysis).toHaveLength(10);
    expect(bounded.lastAnalysis![0].query).toHaveLength(1000);
    expect(bounded.lastAnalysis![0].query.endsWith('…')).toBe(true);
    expect(bounded.lastAnalysis![0].detail).toHaveLength(300);
    expect(bounded.lastAnalysis![0].detail.startsWith('metric-0 18.7 > max 1 ')).toBe(true);
    expect(bounded.reason).toHaveLength(1000);
    expect(bounded.reason!.endsWith('…')).toBe(true);
    expect(bounded.weights).toEqual(hugeStatus().weights.slice(-50));
  });

  it('leaves a small status as it is', () => {
    // Prepare
    const status: RolloutStatus = {
      phase: 'Progressing',
      stepIndex: 0,
      weight: 10,
      weights: [10],
      failedChecks: 0,
      decision: 'continue',
      reason: 'error-rate 0.4 within max 1 at canary weight 10%',
      lastAnalysis: [{ ...record(0), query: 'up', detail: 'metric-0 0.4 within max 1', verdict: 'pass', value: 0.4 }],
      updatedAt: '2026-11-16T02:00:00.000Z',
    };

    // Act
    const bounded = boundStatus(status);

    // Assess
    expect(bounded).toEqual(status);
  });
});

describe('whenCanaryReady', () => {
  it('goes on to the analysis loop by default', () => {
    expect(whenCanaryReady({ skipAnalysis: false, image: 'web@sha256:abc' })).toBeUndefined();
  });

  it('decides to promote at once with spec.skipAnalysis, so that a failed promotion is rolled back as one', () => {
    // Act
    const skip = whenCanaryReady({ skipAnalysis: true, image: 'web@sha256:abc' });

    // Assess
    expect(skip).toEqual({ decision: 'promote', reason: 'analysis skipped (spec.skipAnalysis): promoting web@sha256:abc without shifting traffic' });
    expect(promotionBegun({ phase: 'Progressing', ...skip })).toBe(true);
  });
});

describe('reasonFromError', () => {
  it('reads the error type and message out of a Lambda JSON Cause', () => {
    // Prepare
    const error = {
      Error: 'CanaryNotReadyError',
      Cause: JSON.stringify({
        errorType: 'CanaryNotReadyError',
        errorMessage: 'Deployment prod/web-canary: not ready after 600s, deadline 600s (1/2 available, 2 updated)',
        trace: ['CanaryNotReadyError: Deployment prod/web-canary', '    at readiness (/var/task/index.js:1:1)'],
      }),
    };

    // Act
    const reason = reasonFromError(error);

    // Assess
    expect(reason).toBe('CanaryNotReadyError: Deployment prod/web-canary: not ready after 600s, deadline 600s (1/2 available, 2 updated)');
  });

  it('falls back to the Error name when the JSON Cause has no errorType', () => {
    expect(reasonFromError({ Error: 'TrafficDriftError', Cause: '{"errorMessage":"route web reads 100/0, expected 80/20"}' })).toBe(
      'TrafficDriftError: route web reads 100/0, expected 80/20',
    );
  });

  it('uses a plain Cause as it is', () => {
    expect(reasonFromError({ Error: 'States.Timeout', Cause: 'Task timed out after 60.00 seconds' })).toBe(
      'States.Timeout: Task timed out after 60.00 seconds',
    );
  });

  it('uses a JSON Cause without an errorMessage as plain text', () => {
    expect(reasonFromError({ Error: 'States.TaskFailed', Cause: '{"statusCode":500}' })).toBe('States.TaskFailed: {"statusCode":500}');
  });

  it('gives the Error name alone when there is no Cause', () => {
    expect(reasonFromError({ Error: 'States.Timeout' })).toBe('States.Timeout');
  });

  it('gives nothing for no error', () => {
    expect(reasonFromError(undefined)).toBeUndefined();
  });
});

describe('windowOutsideBake', () => {
  it('refuses a CloudWatch window that would end before the bake of the weight being judged, and says how long the bake must be', () => {
    const cloudwatch = { type: 'cloudwatch' as const, lagSeconds: 60 };

    expect(windowOutsideBake({ provider: cloudwatch, intervalSeconds: 60 }, 180)).toBeUndefined();
    expect(windowOutsideBake({ provider: cloudwatch, intervalSeconds: 60 }, 60)).toBe(
      'its CloudWatch window (60s, ending lagSeconds 60s and up to a minute before the analysis) would fall outside the bake: spec.analysis.interval must be at least 180s, got 60s',
    );
    expect(windowOutsideBake({ provider: { type: 'prometheus', address: 'http://p' }, intervalSeconds: 60 }, 60)).toBeUndefined();
  });
});
