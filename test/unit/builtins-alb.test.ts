// ALB builtin metrics: the canary target group's AWS/ApplicationELB metrics on CloudWatch, and how a Canary on the alb router resolves them.
import { describe, expect, it } from 'vitest';
import { albBuiltin, ALB_BUILTIN_PROVIDER } from '../../lambdas/core/builtin-metrics';
import { parseCloudWatchQuery } from '../../lambdas/core/cloudwatch-query';
import { SpecValidationError } from '../../lambdas/core/errors';
import { resolveMetrics } from '../../lambdas/core/rollout';
import type { ProviderSpec } from '../../lambdas/core/spec';
import { rolloutTarget } from '../../lambdas/core/targets';
import { renderTemplate, type TemplateVariables } from '../../lambdas/core/template';
import type { Document } from './seed';
import { seedCanary, seedMetricTemplate, thrown } from './seed';

const DIMENSIONS = {
  loadBalancer: 'app/k8s-prod-web-1a2b3c4d5e/fedcba9876543210',
  targetGroup: 'targetgroup/k8s-prod-webcanar-0a1b2c3d4e/0123456789abcdef',
};
const vars: TemplateVariables = {
  ingress: 'web', name: 'web', target: 'web-canary', stable: 'web', namespace: 'prod', service: 'web', interval: '2m', variables: {},
  router: DIMENSIONS,
};
const CANARY_TARGET_GROUP = [
  { Name: 'LoadBalancer', Value: DIMENSIONS.loadBalancer },
  { Name: 'TargetGroup', Value: DIMENSIONS.targetGroup },
];

function rendered(metric: 'request-success-rate' | 'request-duration', periodSeconds: number) {
  const preset = albBuiltin(metric, periodSeconds);
  if ('issue' in preset) throw new Error(preset.issue);
  const text = renderTemplate(preset.query, vars, 'builtin');
  const parsed = parseCloudWatchQuery(text, 'builtin');
  if (!parsed.ok) throw new Error(parsed.issues.join('; '));
  return parsed.query;
}

describe('albBuiltin', () => {
  it('computes request-success-rate from the canary target group\'s requests and target 5xx over the whole window', () => {
    // Act
    const query = rendered('request-success-rate', 120);

    // Assess
    expect(query.valueId).toBe('success_rate');
    expect(query.queries).toEqual([
      {
        Id: 'requests',
        MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount', Dimensions: CANARY_TARGET_GROUP }, Period: 120, Stat: 'Sum' },
        ReturnData: false,
      },
      {
        Id: 'errors',
        MetricStat: {
          Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count', Dimensions: CANARY_TARGET_GROUP },
          Period: 120,
          Stat: 'Sum',
        },
        ReturnData: false,
      },
      { Id: 'success_rate', Expression: '100 - 100 * FILL(errors, 0) / requests', Label: 'request-success-rate', ReturnData: true },
    ]);
  });

  it('computes request-duration as TargetResponseTime\'s p99, in milliseconds', () => {
    // Act
    const query = rendered('request-duration', 60);

    // Assess
    expect(query.valueId).toBe('duration_ms');
    expect(query.queries).toEqual([
      {
        Id: 'seconds',
        MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'TargetResponseTime', Dimensions: CANARY_TARGET_GROUP }, Period: 60, Stat: 'p99' },
        ReturnData: false,
      },
      { Id: 'duration_ms', Expression: 'seconds * 1000', Label: 'request-duration', ReturnData: true },
    ]);
  });

  it('runs on CloudWatch in the deployment\'s region with the default publication lag', () => {
    // Act
    const preset = albBuiltin('request-duration', 60);

    // Assess
    expect(preset).toMatchObject({ provider: { type: 'cloudwatch', lagSeconds: 60 } });
    expect(ALB_BUILTIN_PROVIDER.region).toBeUndefined();
  });

  it('refuses an interval that is not whole minutes, as ALB publishes per minute', () => {
    // Act
    const preset = albBuiltin('request-success-rate', 90);

    // Assess
    expect(preset).toEqual({
      issue: 'interval: ALB publishes its metrics per minute; builtin request-success-rate on the alb router needs whole minutes, got 90s',
    });
  });

  it('cannot be rendered before the router has said which target group is the canary\'s', () => {
    // Prepare
    const preset = albBuiltin('request-duration', 60) as { query: string };

    // Act
    const error = thrown(() => renderTemplate(preset.query, { ...vars, router: undefined }, 'builtin request-duration'));

    // Assess
    expect(error.name).toBe('TemplateRenderError');
    expect(error.message).toBe('builtin request-duration: {{ loadBalancer }} is supplied by the alb router only (spec.provider: alb)');
  });
});

describe('resolveMetrics on the alb router', () => {
  const PROMETHEUS: ProviderSpec = { type: 'prometheus', address: 'http://prometheus.monitoring:9090' };
  const onAlb = (document: Document) => {
    document.spec.provider = 'alb';
    // A CloudWatch window of a minute, ending a minute back, needs a three-minute bake.
    document.spec.analysis.interval = '3m';
  };
  const resolve = (change: (document: Document) => void, metricsServer?: ProviderSpec, templateQuery?: string) => {
    const canary = seedCanary((document) => {
      onAlb(document);
      change(document);
    });
    const template = seedMetricTemplate((document) => {
      if (templateQuery !== undefined) {
        document.spec.provider = { type: 'cloudwatch' };
        document.spec.query = templateQuery;
      }
    });
    return resolveMetrics(canary, [template], metricsServer, rolloutTarget(canary));
  };

  it('runs a builtin on CloudWatch whatever the metrics server, and a MetricTemplate on its own provider', () => {
    // Act
    const metrics = resolve(() => {}, PROMETHEUS);

    // Assess
    expect(metrics.map((metric) => [metric.name, metric.provider.type, metric.source])).toEqual([
      ['error-rate', 'prometheus', 'MetricTemplate prod/error-rate'],
      ['request-duration', 'cloudwatch', 'builtin request-duration'],
    ]);
    expect(metrics[1].query).toContain('"MetricName":"TargetResponseTime"');
  });

  it('needs no metrics server for its builtins', () => {
    // Act
    const metrics = resolve((document) => {
      document.spec.analysis.metrics = [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }];
    });

    // Assess
    expect(metrics).toHaveLength(1);
    expect(metrics[0].provider).toEqual({ type: 'cloudwatch', lagSeconds: 60 });
  });

  it('lets a cloudwatch MetricTemplate use the canary\'s target group and load balancer', () => {
    // Prepare
    const query = JSON.stringify([
      {
        Id: 'e5xx',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'HTTPCode_Target_5XX_Count',
            Dimensions: [{ Name: 'TargetGroup', Value: '{{ targetGroup }}' }, { Name: 'LoadBalancer', Value: '{{ loadBalancer }}' }],
          },
          Period: 60,
          Stat: 'Sum',
        },
      },
    ]);

    // Act
    const metrics = resolve(() => {}, PROMETHEUS, query);

    // Assess
    expect(metrics[0].query).toBe(query);
  });

  it('refuses the target group variables on another router before any traffic moves, naming the metric', () => {
    // Prepare
    const query = '[{"Id":"m","MetricStat":{"Metric":{"Namespace":"AWS/ApplicationELB","MetricName":"RequestCount","Dimensions":[{"Name":"TargetGroup","Value":"{{ targetGroup }}"}]},"Period":60,"Stat":"Sum"}}]';

    // Act
    const error = thrown(() => resolve((document) => {
      document.spec.provider = 'gatewayapi';
    }, PROMETHEUS, query));

    // Assess
    expect(error).toBeInstanceOf(SpecValidationError);
    expect((error as SpecValidationError).issues).toEqual([
      'spec.analysis.metrics[0] (MetricTemplate prod/error-rate): {{ targetGroup }} is supplied by the alb router only (spec.provider: alb)',
    ]);
  });

  it('refuses a builtin whose interval is not whole minutes, with its path', () => {
    // Act
    const error = thrown(() => resolve((document) => {
      document.spec.analysis.metrics[1].interval = '90s';
    }, PROMETHEUS));

    // Assess
    expect((error as SpecValidationError).issues).toEqual([
      'spec.analysis.metrics[1].interval: ALB publishes its metrics per minute; builtin request-duration on the alb router needs whole minutes, got 90s',
    ]);
  });

  it('refuses a bake too short for the builtin\'s CloudWatch window, as for any CloudWatch metric', () => {
    // Act
    const error = thrown(() => resolve((document) => {
      document.spec.analysis.interval = '1m';
    }, PROMETHEUS));

    // Assess
    expect((error as SpecValidationError).issues).toEqual([
      expect.stringMatching(/^spec\.analysis\.metrics\[1\]: its CloudWatch window .* must be at least 180s, got 60s$/),
    ]);
  });
});
