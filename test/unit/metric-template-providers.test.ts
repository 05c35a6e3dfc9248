// MetricTemplate providers: cloudwatch queries checked at load with paths, secretRef to Secrets Manager, SigV4 for Amazon Managed Prometheus.
import { describe, expect, it } from 'vitest';
import { checkCloudWatchQueryTemplate, parseCloudWatchQuery } from '../../lambdas/core/cloudwatch-query';
import { SpecValidationError } from '../../lambdas/core/errors';
import { parseMetricTemplate, parseMetricsServer } from '../../lambdas/core/spec';
import { thrown } from './seed';
import type { Document } from './seed';

/** Flagger's documented CloudWatch template (docs/gitbook/usage/metrics.md), with `{{ target }}` for Flagger's `{{ name }}`. */
const FLAGGER_CLOUDWATCH_QUERY = `[
    {
        "Id": "e1",
        "Expression": "m1 / m2",
        "Label": "ErrorRate"
    },
    {
        "Id": "m1",
        "MetricStat": {
            "Metric": {
                "Namespace": "MyKubernetesCluster",
                "MetricName": "ErrorCount",
                "Dimensions": [{ "Name": "appName", "Value": "{{ target }}.{{ namespace }}" }]
            },
            "Period": 60,
            "Stat": "Sum",
            "Unit": "Count"
        },
        "ReturnData": false
    },
    {
        "Id": "m2",
        "MetricStat": {
            "Metric": {
                "Namespace": "MyKubernetesCluster",
                "MetricName": "RequestCount",
                "Dimensions": [{ "Name": "appName", "Value": "{{ target }}.{{ namespace }}" }]
            },
            "Period": 60,
            "Stat": "Sum",
            "Unit": "Count"
        },
        "ReturnData": false
    }
]`;

function template(provider: Document, query = 'sum(rate(http_requests_total[1m]))'): Document {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'error-rate', namespace: 'prod' },
    spec: { provider, query },
  };
}

function issuesOf(document: Document): readonly string[] {
  const error = thrown(() => parseMetricTemplate(document));
  expect(error).toBeInstanceOf(SpecValidationError);
  return (error as SpecValidationError).issues;
}

describe('parseMetricTemplate: cloudwatch', () => {
  it("loads Flagger's documented CloudWatch template, with the default publication lag", () => {
    // Act
    const spec = parseMetricTemplate(template({ type: 'cloudwatch', region: 'ap-northeast-1' }, FLAGGER_CLOUDWATCH_QUERY));

    // Assess
    expect(spec.provider).toEqual({ type: 'cloudwatch', region: 'ap-northeast-1', lagSeconds: 60 });
    expect(spec.query).toBe(FLAGGER_CLOUDWATCH_QUERY);
  });

  it('takes a lag in whole seconds, and leaves the region to the deployment when none is given', () => {
    const spec = parseMetricTemplate(template({ type: 'cloudwatch', lagSeconds: 180 }, FLAGGER_CLOUDWATCH_QUERY));

    expect(spec.provider).toEqual({ type: 'cloudwatch', lagSeconds: 180 });
  });

  it('refuses a lag that is negative, fractional or over an hour, naming the path', () => {
    for (const lagSeconds of [-1, 1.5, 3601, '60']) {
      expect(issuesOf(template({ type: 'cloudwatch', lagSeconds }, FLAGGER_CLOUDWATCH_QUERY))).toEqual([
        expect.stringMatching(/^spec\.provider\.lagSeconds: expected whole seconds from 0 to 3600, got /),
      ]);
    }
  });

  it('refuses a query that is not JSON, giving the position but never quoting the query', () => {
    // Act
    const promql = issuesOf(template({ type: 'cloudwatch', region: 'eu-west-1' }, 'sum(rate(http_requests_total[1m]))'));
    const missingComma = issuesOf(template({ type: 'cloudwatch' }, '[\n  {"Id": "m1"}\n  {"Id": "m2"}\n]'));
    const cut = issuesOf(template({ type: 'cloudwatch' }, '['));

    // Assess
    expect(promql).toEqual(['spec.query: expected a JSON list of CloudWatch MetricDataQuery objects (invalid JSON)']);
    expect(missingComma).toEqual(['spec.query: expected a JSON list of CloudWatch MetricDataQuery objects (invalid JSON at line 3, column 3)']);
    expect(cut).toEqual(['spec.query: expected a JSON list of CloudWatch MetricDataQuery objects (invalid JSON: it ends too early)']);
  });

  it('refuses JSON that is not a non-empty list', () => {
    expect(issuesOf(template({ type: 'cloudwatch' }, '{"Id": "m1"}'))).toEqual(['spec.query: expected a list, got an object']);
    expect(issuesOf(template({ type: 'cloudwatch' }, '[]'))).toEqual(['spec.query: expected at least one MetricDataQuery, got an empty list']);
  });

  it('names the path of each bad field inside the query', () => {
    // Prepare
    const query = JSON.stringify([
      { Id: 'E1', Expression: 'm1 * 100' },
      { Id: 'm1', MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB' }, Period: 45, Stat: 'Sum', Unit: 'count' }, ReturnData: false },
    ]);

    // Act
    const issues = issuesOf(template({ type: 'cloudwatch' }, query));

    // Assess
    expect(issues).toEqual([
      'spec.query[0].Id: expected an Id that starts with a lowercase letter and holds only letters, digits and "_", got "E1"',
      'spec.query[1].MetricStat.Metric.MetricName: required, got nothing',
      'spec.query[1].MetricStat.Period: expected a period in seconds (1, 5, 10, 20, 30 or a multiple of 60), got 45',
      expect.stringMatching(/^spec\.query\[1\]\.MetricStat\.Unit: expected a CloudWatch unit \(Seconds, .*Count.*\), got "count"$/),
    ]);
  });

  it('requires exactly one query to return data, as the metric has one value', () => {
    const stat = { Metric: { Namespace: 'N', MetricName: 'M' }, Period: 60, Stat: 'Sum' };
    const two = JSON.stringify([{ Id: 'm1', MetricStat: stat }, { Id: 'e1', Expression: 'm1 * 2' }]);
    const none = JSON.stringify([{ Id: 'm1', MetricStat: stat, ReturnData: false }]);

    expect(issuesOf(template({ type: 'cloudwatch' }, two))).toEqual([
      'spec.query: 2 queries return data (spec.query[0], spec.query[1]); the metric\'s value must be exactly one, set "ReturnData": false on the others',
    ]);
    expect(issuesOf(template({ type: 'cloudwatch' }, none))).toEqual([
      'spec.query: no query returns data; set "ReturnData": true on the one query whose value is the metric',
    ]);
  });

  it('refuses a repeated Id, an unknown field, and a query with both MetricStat and Expression', () => {
    // Prepare
    const stat = { Metric: { Namespace: 'N', MetricName: 'M' }, Period: 60, Stat: 'Sum' };
    const query = JSON.stringify([
      { Id: 'm1', MetricStat: stat, ReturnDate: false },
      { Id: 'm1', MetricStat: stat, Expression: 'm1', ReturnData: false },
    ]);

    // Act
    const issues = issuesOf(template({ type: 'cloudwatch' }, query));

    // Assess: a misspelt ReturnData must not silently make a second value query
    expect(issues).toEqual([
      'spec.query[0]: unknown field "ReturnDate" (expected Id, MetricStat, Expression, Label, ReturnData, Period, AccountId)',
      'spec.query[1].Id: "m1" is also the Id of spec.query[0]',
      'spec.query[1]: set exactly one of MetricStat and Expression, got both',
    ]);
  });

  it("matches field names case-insensitively, as Flagger's Go JSON reader does, and sends them as GetMetricData spells them", () => {
    // Prepare
    const query = '[{"id": "m1", "metricStat": {"metric": {"namespace": "N", "metricName": "M"}, "period": 60, "stat": "Sum"}}]';

    // Act
    const parsed = parseCloudWatchQuery(query, 'query');

    // Assess
    expect(parsed).toEqual({
      ok: true,
      query: { valueId: 'm1', queries: [{ Id: 'm1', MetricStat: { Metric: { Namespace: 'N', MetricName: 'M' }, Period: 60, Stat: 'Sum' } }] },
    });
  });

  it('accepts {{ }} variables anywhere in the template at load, and checks the rendered values at query time', () => {
    // Prepare
    const query =
      '[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "{{ variables.ns }}", "MetricName": "M"}, ' +
      '"Period": {{ variables.period }}, "Stat": "{{ variables.stat }}", "Unit": "{{ variables.unit }}"}}]';

    // Act
    const atLoad = checkCloudWatchQueryTemplate(query, 'spec.query');
    const rendered = parseCloudWatchQuery(query.replace('{{ variables.period }}', '45').replace(/\{\{[^}]*\}\}/g, 'Count'), 'query');

    // Assess
    expect(atLoad).toEqual([]);
    expect(rendered).toEqual({
      ok: false,
      issues: ['query[0].MetricStat.Period: expected a period in seconds (1, 5, 10, 20, 30 or a multiple of 60), got 45'],
    });
  });

  it('refuses provider fields a cloudwatch provider does not use, saying what to do instead', () => {
    // Act
    const issues = issuesOf(
      template({ type: 'cloudwatch', address: 'https://monitoring.us-east-1.amazonaws.com', secretRef: { name: 'cw' } }, FLAGGER_CLOUDWATCH_QUERY),
    );

    // Assess
    expect(issues).toEqual([
      'spec.provider.address: not used by a cloudwatch provider (CloudWatch is reached at its regional endpoint: set spec.provider.region)',
      "spec.provider.secretRef: not used by a cloudwatch provider (CloudWatch is queried with the AWS credentials of Fledge's own role)",
    ]);
  });

  it('refuses a region that is not one', () => {
    expect(issuesOf(template({ type: 'cloudwatch', region: 'Frankfurt' }, FLAGGER_CLOUDWATCH_QUERY))).toEqual([
      'spec.provider.region: expected an AWS region like "us-east-1", got "Frankfurt"',
    ]);
  });
});

describe('parseMetricTemplate: prometheus credentials and SigV4', () => {
  it('takes secretRef as the name or ARN of a Secrets Manager secret, and carries only the name', () => {
    for (const name of ['prometheus-auth', 'prod/metrics/prometheus', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prom-AbCdEf']) {
      const spec = parseMetricTemplate(template({ type: 'prometheus', address: 'https://prometheus.example.com', secretRef: { name } }));

      expect(spec.provider).toEqual({ type: 'prometheus', address: 'https://prometheus.example.com', secretRef: { name } });
    }
  });

  it('refuses a secretRef name Secrets Manager would not take', () => {
    expect(issuesOf(template({ type: 'prometheus', address: 'https://p.example.com', secretRef: { name: 'has space' } }))).toEqual([
      // Under a path that may hold a credential, the value is never shown (a secret pasted in by mistake stays unseen).
      'spec.provider.secretRef.name: expected the name or ARN of an AWS Secrets Manager secret, got a value not shown (it may be a credential)',
    ]);
  });

  it('refuses secretRef on a web provider', () => {
    expect(issuesOf(template({ type: 'web', address: 'https://s.example.com', jsonPath: '$.v', secretRef: { name: 'x' } }, '/stats'))).toEqual([
      'spec.provider.secretRef: not used by a web provider (only prometheus providers take it)',
    ]);
  });

  it('still tells where credentials go when they are written into the manifest', () => {
    expect(issuesOf(template({ type: 'prometheus', address: 'https://p.example.com', headers: { Authorization: 'Bearer x' } }))).toEqual([
      'spec.provider.headers.Authorization: credentials do not belong in a manifest, where the execution history would carry them; ' +
        'put them in an AWS Secrets Manager secret and name it in spec.provider.secretRef',
    ]);
  });

  it('signs with SigV4 for the region an Amazon Managed Prometheus workspace address names', () => {
    // Act
    const address = 'https://aps-workspaces.eu-central-1.amazonaws.com/workspaces/ws-12345678-abcd-1234-abcd-123456789012';
    const spec = parseMetricTemplate(template({ type: 'prometheus', address }));

    // Assess
    expect(spec.provider).toEqual({ type: 'prometheus', address, sigv4: true, region: 'eu-central-1' });
  });

  it('signs another address (a VPC endpoint) when asked with sigv4: true and a region', () => {
    const address = 'https://vpce-0abc.aps-workspaces.us-east-1.vpce.amazonaws.com/workspaces/ws-1';

    const spec = parseMetricTemplate(template({ type: 'prometheus', address, sigv4: true, region: 'us-east-1' }));

    expect(spec.provider).toEqual({ type: 'prometheus', address, sigv4: true, region: 'us-east-1' });
  });

  it('does not sign an Amazon Managed Prometheus address when told sigv4: false', () => {
    const address = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1';

    const spec = parseMetricTemplate(template({ type: 'prometheus', address, sigv4: false, secretRef: { name: 'proxy-token' } }));

    expect(spec.provider).toEqual({ type: 'prometheus', address, secretRef: { name: 'proxy-token' } });
  });

  it('refuses SigV4 without a region, with a secret, or with a region other than the workspace', () => {
    expect(issuesOf(template({ type: 'prometheus', address: 'https://prom.internal', sigv4: true }))).toEqual([
      'spec.provider.region: SigV4 signs for a region, and the address does not name one (aps-workspaces.<region>.amazonaws.com); set spec.provider.region',
    ]);
    expect(
      issuesOf(template({ type: 'prometheus', address: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1', secretRef: { name: 'x' } })),
    ).toEqual([
      "spec.provider.secretRef: a SigV4-signed provider authenticates with Fledge's AWS role, not a secret (set sigv4: false to use the secret)",
    ]);
    expect(
      issuesOf(template({ type: 'prometheus', address: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1', region: 'us-west-2' })),
    ).toEqual(['spec.provider.region: the workspace address is in us-east-1, got "us-west-2"']);
  });

  it('refuses a region or a lag on a prometheus provider that does not sign', () => {
    expect(issuesOf(template({ type: 'prometheus', address: 'https://prom.internal', region: 'us-east-1', lagSeconds: 60 }))).toEqual([
      'spec.provider.lagSeconds: not used by a prometheus provider (only cloudwatch providers take it)',
      'spec.provider.region: a prometheus provider uses a region only to sign with SigV4 (set sigv4: true)',
    ]);
  });

  it('signs a metrics server that is an Amazon Managed Prometheus workspace', () => {
    const address = 'https://aps-workspaces.ap-southeast-2.amazonaws.com/workspaces/ws-1';

    expect(parseMetricsServer(`prometheus:${address}`, 'FLEDGE_METRICS_SERVER')).toEqual({ type: 'prometheus', address, sigv4: true, region: 'ap-southeast-2' });
    expect(parseMetricsServer('prometheus:http://prometheus.monitoring:9090', 'FLEDGE_METRICS_SERVER')).toEqual({
      type: 'prometheus',
      address: 'http://prometheus.monitoring:9090',
    });
  });
});
