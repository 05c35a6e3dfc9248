// Canary and MetricTemplate loading: Flagger manifests load unchanged, defaults are filled in, errors name path and value.
import { describe, expect, it } from 'vitest';
import { SpecValidationError } from '../../lambdas/core/errors';
import { parseCanary, parseMetricTemplate, parseMetricsServer } from '../../lambdas/core/spec';
import type { Document } from './seed';
import { seedCanary, seedCanaryDocument, seedMetricTemplate, seedMetricTemplateDocument, thrown } from './seed';

/** The issues a Canary document is rejected with. */
function canaryIssues(change: (document: Document) => void): { message: string; issues: readonly string[] } {
  const document = seedCanaryDocument();
  change(document);
  const error = thrown(() => parseCanary(document));
  expect(error).toBeInstanceOf(SpecValidationError);
  expect(error.name).toBe('SpecValidationError');
  return { message: error.message, issues: (error as SpecValidationError).issues };
}

function metricTemplateIssues(change: (document: Document) => void): { message: string; issues: readonly string[] } {
  const document = seedMetricTemplateDocument();
  change(document);
  const error = thrown(() => parseMetricTemplate(document));
  expect(error).toBeInstanceOf(SpecValidationError);
  return { message: error.message, issues: (error as SpecValidationError).issues };
}

/** The smallest Canary Fledge accepts, to show the defaults. */
function minimalCanary(): Document {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'api' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'api' },
      service: { port: 8080 },
      analysis: { stepWeight: 20 },
    },
  };
}

describe('parseCanary: the seed Canary', () => {
  it('loads the seed Canary unchanged, with the defaults filled in', () => {
    // Act
    const canary = seedCanary();

    // Assess
    expect(canary).toEqual({
      name: 'web',
      namespace: 'prod',
      router: 'gatewayapi',
      targetName: 'web',
      serviceName: 'web',
      servicePort: 80,
      progressDeadlineSeconds: 600,
      skipAnalysis: false,
      suspend: false,
      analysis: {
        interval: '1m',
        intervalSeconds: 60,
        threshold: 3,
        maxWeight: 50,
        stepWeight: 10,
        stepWeights: undefined,
        metrics: [
          {
            name: 'error-rate',
            templateRef: { name: 'error-rate', namespace: 'prod' },
            thresholdRange: { min: undefined, max: 1 },
            interval: '1m',
            intervalSeconds: 60,
            query: undefined,
            templateVariables: {},
          },
          {
            name: 'request-duration',
            templateRef: undefined,
            thresholdRange: { min: undefined, max: 500 },
            interval: '1m',
            intervalSeconds: 60,
            query: undefined,
            templateVariables: {},
          },
        ],
        webhooks: [
          {
            name: 'load-test',
            type: 'rollout',
            url: 'http://flagger-loadtester.prod/',
            timeoutSeconds: 15,
            metadata: { cmd: 'hey -z 1m -q 10 -c 2 http://web-canary.prod:80/' },
          },
        ],
      },
      fledge: {
        imageRepository: 'web',
        tagPattern: '.*',
        container: undefined,
        cluster: undefined,
        route: 'web',
        failedCheckCounting: 'consecutive',
        metricsServer: undefined,
      },
    });
  });

  it('loads the seed MetricTemplate unchanged, query and all', () => {
    // Prepare
    const document = seedMetricTemplateDocument();

    // Act
    const template = parseMetricTemplate(document);

    // Assess
    expect(template).toEqual({
      name: 'error-rate',
      namespace: 'prod',
      provider: { type: 'prometheus', address: 'http://prometheus.monitoring:9090' },
      query: document.spec.query,
    });
    expect(template.query).toContain('kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)?"');
  });
});

describe('parseCanary: defaults', () => {
  it('fills every documented default into a minimal Canary', () => {
    // Act
    const canary = parseCanary(minimalCanary());

    // Assess
    expect(canary).toEqual({
      name: 'api',
      namespace: 'default',
      router: 'gatewayapi',
      targetName: 'api',
      serviceName: 'api',
      servicePort: 8080,
      progressDeadlineSeconds: 600,
      skipAnalysis: false,
      suspend: false,
      analysis: {
        interval: '1m',
        intervalSeconds: 60,
        threshold: 1,
        maxWeight: 100,
        stepWeight: 20,
        stepWeights: undefined,
        metrics: [],
        webhooks: [],
      },
      fledge: {
        imageRepository: 'api',
        tagPattern: '.*',
        route: 'api',
        failedCheckCounting: 'consecutive',
      },
    });
  });

  it('gives a metric without an interval the analysis interval', () => {
    // Prepare
    const document = minimalCanary();
    document.spec.analysis.interval = '30s';
    document.spec.analysis.metrics = [{ name: 'request-success-rate', thresholdRange: { min: 99 } }];

    // Act
    const [metric] = parseCanary(document).analysis.metrics;

    // Assess
    expect(metric.interval).toBe('30s');
    expect(metric.intervalSeconds).toBe(30);
  });

  it('gives a webhook without a type or timeout the rollout type and 60 seconds', () => {
    // Prepare
    const document = minimalCanary();
    document.spec.analysis.webhooks = [{ name: 'smoke', url: 'http://tester.prod/smoke' }];

    // Act
    const [webhook] = parseCanary(document).analysis.webhooks;

    // Assess
    expect(webhook).toEqual({ name: 'smoke', type: 'rollout', url: 'http://tester.prod/smoke', timeoutSeconds: 60, metadata: {} });
  });

  it('routes by spec.service.name when it is set, and keeps the target name for the Deployment', () => {
    // Act
    const canary = seedCanary((document) => {
      document.spec.service.name = 'web-svc';
    });

    // Assess
    expect(canary.targetName).toBe('web');
    expect(canary.serviceName).toBe('web-svc');
    expect(canary.fledge.route).toBe('web-svc');
  });

  it('carries the Fledge additions under spec.fledge through as written', () => {
    // Act
    const canary = seedCanary((document) => {
      document.spec.fledge = {
        imageRepository: 'team/web',
        tagPattern: '\\d+\\.\\d+\\.\\d+',
        container: 'app',
        cluster: 'prod-eu',
        route: 'web-route',
        failedCheckCounting: 'cumulative',
        metricsServer: 'prometheus:http://prometheus.monitoring:9090',
      };
    });

    // Assess
    expect(canary.fledge).toEqual({
      imageRepository: 'team/web',
      tagPattern: '\\d+\\.\\d+\\.\\d+',
      container: 'app',
      cluster: 'prod-eu',
      route: 'web-route',
      failedCheckCounting: 'cumulative',
      metricsServer: 'prometheus:http://prometheus.monitoring:9090',
    });
  });

  it('resolves a templateRef without a namespace to the Canary namespace, and keeps an explicit one', () => {
    // Act
    const canary = seedCanary((document) => {
      document.spec.analysis.metrics[1].templateRef = { name: 'latency', namespace: 'monitoring' };
    });

    // Assess
    expect(canary.analysis.metrics.map((metric) => metric.templateRef)).toEqual([
      { name: 'error-rate', namespace: 'prod' },
      { name: 'latency', namespace: 'monitoring' },
    ]);
  });

  it.each(['gatewayapi:v1', 'gatewayapi:v1beta1', 'gatewayapi'])('accepts the router spelling %s as Gateway API', (provider) => {
    // Act
    const canary = seedCanary((document) => {
      document.spec.provider = provider;
    });

    // Assess
    expect(canary.router).toBe('gatewayapi');
  });

  it('keeps stepWeights as given and sets no maxWeight for them', () => {
    // Act
    const canary = seedCanary((document) => {
      delete document.spec.analysis.stepWeight;
      delete document.spec.analysis.maxWeight;
      document.spec.analysis.stepWeights = [5, 25, 60];
    });

    // Assess
    expect(canary.analysis.stepWeights).toEqual([5, 25, 60]);
    expect(canary.analysis.stepWeight).toBeUndefined();
    expect(canary.analysis.maxWeight).toBeUndefined();
  });
});

describe('parseCanary: errors name the path and the value', () => {
  it('rejects a negative stepWeight with its path and value', () => {
    // Act
    const { message, issues } = canaryIssues((document) => {
      document.spec.analysis.stepWeight = -5;
    });

    // Assess
    expect(message).toBe('Canary: spec.analysis.stepWeight: expected a number between 1 and 100, got -5');
    expect(issues).toEqual(['spec.analysis.stepWeight: expected a number between 1 and 100, got -5']);
  });

  it('rejects a thresholdRange whose min is above its max', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.analysis.metrics[0].thresholdRange = { min: 5, max: 1 };
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.metrics[0].thresholdRange: min > max (min 5, max 1)']);
  });

  it('accepts a thresholdRange whose min equals its max', () => {
    // Act
    const canary = seedCanary((document) => {
      document.spec.analysis.metrics[0].thresholdRange = { min: 0, max: 0 };
    });

    // Assess
    expect(canary.analysis.metrics[0].thresholdRange).toEqual({ min: 0, max: 0 });
  });

  it('rejects a metric without a thresholdRange', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.analysis.metrics[1].thresholdRange;
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.metrics[1].thresholdRange: set min, max or both, got null']);
  });

  it('rejects a threshold bound that is a string, not a number', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.analysis.metrics[1].thresholdRange = { max: '500' };
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.metrics[1].thresholdRange.max: expected a number, got "500"']);
  });

  it('rejects a service without a port', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.service.port;
    });

    // Assess
    expect(issues).toEqual(['spec.service.port: expected a port number, got nothing']);
  });

  it('rejects a stepWeight above maxWeight', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.analysis.stepWeight = 60;
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.stepWeight: must not exceed maxWeight (50), got 60']);
  });

  it('rejects stepWeights that do not increase, naming each offending index', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.analysis.stepWeight;
      delete document.spec.analysis.maxWeight;
      document.spec.analysis.stepWeights = [10, 30, 30, 20];
    });

    // Assess
    expect(issues).toEqual([
      'spec.analysis.stepWeights[2]: weights must increase, got 30 after 30',
      'spec.analysis.stepWeights[3]: weights must increase, got 20 after 30',
    ]);
  });

  it('rejects a stepWeights entry outside 1..100 with its index', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.analysis.stepWeight;
      document.spec.analysis.stepWeights = [10, 120];
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.stepWeights[1]: expected a number between 1 and 100, got 120']);
  });

  it('rejects a Canary with neither stepWeight, stepWeights nor iterations', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.analysis.stepWeight;
    });

    // Assess
    expect(issues).toEqual(['spec.analysis: set stepWeight (with maxWeight), stepWeights, or iterations (blue/green), got none']);
  });

  it('rejects a Canary with both stepWeight and stepWeights', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.analysis.stepWeights = [10, 50];
    });

    // Assess
    expect(issues).toEqual(['spec.analysis: set stepWeight or stepWeights, not both']);
  });

  it('reads iterations without weights as blue/green', () => {
    // Act
    const canary = seedCanary((document) => {
      delete document.spec.analysis.stepWeight;
      delete document.spec.analysis.maxWeight;
      document.spec.analysis.iterations = 10;
    });

    // Assess
    expect(canary.analysis).toMatchObject({ iterations: 10, stepWeight: undefined, stepWeights: undefined });
  });

  it('rejects iterations with stepWeight: blue/green or canary, not both', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.analysis.iterations = 10;
    });

    // Assess
    expect(issues).toEqual(['spec.analysis: set iterations (blue/green) or stepWeight/stepWeights (canary), not both']);
  });

  it('rejects iterations that are not a positive whole number, with the value', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.analysis.stepWeight;
      document.spec.analysis.iterations = 0;
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.iterations: expected a positive whole number, got 0']);
  });

  it('rejects A/B testing (match) and mirroring rather than running something else', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      delete document.spec.analysis.stepWeight;
      delete document.spec.analysis.maxWeight;
      document.spec.analysis.iterations = 10;
      document.spec.analysis.match = [{ headers: { 'x-canary': { exact: 'insider' } } }];
      document.spec.analysis.mirror = true;
    });

    // Assess
    expect(issues).toEqual([
      'spec.analysis.match: A/B testing (routing by header or cookie) is not supported; remove match for blue/green with iterations',
      'spec.analysis.mirror: traffic mirroring is not supported; remove it or set it to false',
    ]);
  });

  it('rejects an unknown router in spec.provider, listing the supported ones', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.provider = 'linkerd';
    });

    // Assess
    expect(issues).toEqual(['spec.provider: unsupported router "linkerd"; supported: gatewayapi:v1, gatewayapi:v1beta1, gatewayapi, nginx, istio, alb, kubernetes']);
  });

  it('rejects two metrics with the same name', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.analysis.metrics[1].name = 'error-rate';
    });

    // Assess
    expect(issues).toEqual(['spec.analysis.metrics[1].name: duplicate metric name "error-rate"']);
  });

  it.each([
    ['analysis interval', (d: Document) => (d.spec.analysis.interval = '1 minute'), 'spec.analysis.interval: expected a duration like "1m" or "30s", got "1 minute"'],
    ['metric interval', (d: Document) => (d.spec.analysis.metrics[1].interval = '0s'), 'spec.analysis.metrics[1].interval: expected a duration like "1m" or "30s", got "0s"'],
    ['webhook timeout', (d: Document) => (d.spec.analysis.webhooks[0].timeout = 15), 'spec.analysis.webhooks[0].timeout: expected a duration like "1m" or "30s", got 15'],
  ])('rejects a bad duration in the %s', (_where, change, issue) => {
    // Act
    const { issues } = canaryIssues(change);

    // Assess
    expect(issues).toEqual([issue]);
  });

  it('rejects a tagPattern that is not a regular expression', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.fledge = { tagPattern: '(1.4' };
    });

    // Assess
    expect(issues).toEqual(['spec.fledge.tagPattern: expected a valid regular expression, got "(1.4"']);
  });

  it('rejects a target that is not a Deployment', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.targetRef.kind = 'StatefulSet';
    });

    // Assess
    expect(issues).toEqual(['spec.targetRef.kind: expected Deployment (Fledge rolls out Deployments), got "StatefulSet"']);
  });

  it('reports several schema issues at once, each with its path and value', () => {
    // Act
    const { message, issues } = canaryIssues((document) => {
      document.metadata.name = 'Web';
      document.spec.analysis.interval = '1 minute';
      document.spec.analysis.threshold = 0;
    });

    // Assess
    expect(issues).toEqual([
      'metadata.name: expected a lowercase DNS label (a-z, 0-9, "-"), got "Web"',
      'spec.analysis.interval: expected a duration like "1m" or "30s", got "1 minute"',
      'spec.analysis.threshold: expected a positive whole number, got 0',
    ]);
    expect(message).toBe(`Canary: ${issues.join('; ')}`);
  });

  it('reports several rule issues at once', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.spec.provider = 'linkerd';
      document.spec.analysis.stepWeight = 60;
      document.spec.analysis.metrics[0].thresholdRange = { min: 5, max: 1 };
    });

    // Assess
    expect(issues).toEqual([
      'spec.provider: unsupported router "linkerd"; supported: gatewayapi:v1, gatewayapi:v1beta1, gatewayapi, nginx, istio, alb, kubernetes',
      'spec.analysis.stepWeight: must not exceed maxWeight (50), got 60',
      'spec.analysis.metrics[0].thresholdRange: min > max (min 5, max 1)',
    ]);
  });

  it('names the manifest it was given as the source of the error', () => {
    // Prepare
    const document = seedCanaryDocument();
    document.spec.analysis.stepWeight = 0;

    // Act
    const error = thrown(() => parseCanary(document, 'canaries/web.yaml'));

    // Assess
    expect(error.message).toBe('canaries/web.yaml: spec.analysis.stepWeight: expected a number between 1 and 100, got 0');
  });

  it('rejects a document that is not a Canary', () => {
    // Act
    const { issues } = canaryIssues((document) => {
      document.kind = 'Deployment';
    });

    // Assess
    expect(issues).toEqual(['kind: expected Canary, got "Deployment"']);
  });
});

describe('parseCanary: ingressRef', () => {
  const ingressRef = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'public' };

  it('takes Flagger\'s spec.ingressRef as the route of the nginx and alb routers', () => {
    for (const provider of ['nginx', 'alb']) {
      const canary = seedCanary((document) => {
        document.spec.provider = provider;
        document.spec.ingressRef = ingressRef;
      });
      expect(canary.fledge.route).toBe('public');
    }
  });

  it('refuses it on a router that routes with something else than an Ingress', () => {
    // Act
    const error = thrown(() => seedCanary((document) => (document.spec.ingressRef = ingressRef)));

    // Assess
    expect((error as SpecValidationError).issues).toEqual([
      'spec.ingressRef: names the Ingress of the nginx or alb router; this Canary\'s router is gatewayapi (set spec.fledge.route for its route)',
    ]);
  });

  it('refuses it beside a spec.fledge.route naming another Ingress', () => {
    // Act
    const error = thrown(() =>
      seedCanary((document) => {
        document.spec.provider = 'nginx';
        document.spec.ingressRef = ingressRef;
        document.spec.fledge = { route: 'web' };
      }),
    );

    // Assess
    expect((error as SpecValidationError).issues).toEqual([
      'spec.fledge.route: "web" names another Ingress than spec.ingressRef.name "public"; set one of them',
    ]);
  });

  it('refuses a kind other than Ingress, with the path', () => {
    // Act
    const error = thrown(() =>
      seedCanary((document) => {
        document.spec.provider = 'nginx';
        document.spec.ingressRef = { ...ingressRef, kind: 'HTTPRoute' };
      }),
    );

    // Assess
    expect((error as SpecValidationError).issues).toEqual(['spec.ingressRef.kind: expected Ingress, got "HTTPRoute"']);
  });
});

describe('parseCanary: the kubernetes router', () => {
  it('runs blue/green only, as Flagger\'s kubernetes provider: iterations and no weights', () => {
    // Act
    const canary = seedCanary((document) => {
      document.spec.provider = 'kubernetes';
      delete document.spec.analysis.stepWeight;
      delete document.spec.analysis.maxWeight;
      document.spec.analysis.iterations = 5;
    });

    // Assess
    expect(canary.router).toBe('kubernetes');
    expect(canary.analysis.iterations).toBe(5);
  });

  it('refuses weights, which it has no router to set', () => {
    // Act
    const error = thrown(() => seedCanary((document) => (document.spec.provider = 'kubernetes')));

    // Assess
    expect((error as SpecValidationError).issues).toEqual([
      'spec.provider: kubernetes has no router to shift traffic with, so it runs blue/green only, as in Flagger: set spec.analysis.iterations and no stepWeight or stepWeights',
    ]);
  });
});

describe('parseCanary: skipAnalysis', () => {
  it('is false unless the Canary sets it, as in Flagger', () => {
    expect(seedCanary().skipAnalysis).toBe(false);
    expect(seedCanary((document) => (document.spec.skipAnalysis = true)).skipAnalysis).toBe(true);
  });

  it('refuses anything but true or false, naming the path and the value', () => {
    // Act
    const error = thrown(() => seedCanary((document) => (document.spec.skipAnalysis = 'yes')));

    // Assess
    expect((error as SpecValidationError).issues).toEqual(['spec.skipAnalysis: expected true or false, got "yes"']);
  });
});

describe('parseMetricTemplate', () => {
  it('loads a web provider with its JSON path', () => {
    // Act
    const template = seedMetricTemplate((document) => {
      document.spec.provider = { type: 'web', address: 'http://stats.prod/', jsonPath: '$.errorRate' };
    });

    // Assess
    expect(template.provider).toEqual({ type: 'web', address: 'http://stats.prod/', jsonPath: '$.errorRate' });
  });

  it('rejects an unknown metric provider type, listing the supported ones', () => {
    // Act
    const { message } = metricTemplateIssues((document) => {
      document.spec.provider = { type: 'datadog', address: 'https://api.datadoghq.com' };
    });

    // Assess
    expect(message).toBe('MetricTemplate: spec.provider.type: unsupported metric provider "datadog"; supported: prometheus, web, cloudwatch');
  });

  it('rejects a prometheus provider without an address', () => {
    // Act
    const { issues } = metricTemplateIssues((document) => {
      delete document.spec.provider.address;
    });

    // Assess
    expect(issues).toEqual(['spec.provider.address: a prometheus provider needs the server address, got nothing']);
  });

  it('rejects a web provider without a JSON path', () => {
    // Act
    const { issues } = metricTemplateIssues((document) => {
      document.spec.provider = { type: 'web', address: 'http://stats.prod/' };
    });

    // Assess
    expect(issues).toEqual(['spec.provider.jsonPath: a web provider needs the JSON path of the value, got nothing']);
  });

  it('rejects a JSON path that does not start with $', () => {
    // Act
    const { issues } = metricTemplateIssues((document) => {
      document.spec.provider = { type: 'web', address: 'http://stats.prod/', jsonPath: 'errorRate' };
    });

    // Assess
    expect(issues).toEqual(['spec.provider.jsonPath: expected a JSON path starting with $, got "errorRate"']);
  });

  it('reports a bad address and an empty query together', () => {
    // Act
    const { issues } = metricTemplateIssues((document) => {
      document.spec.provider.address = 'prometheus.monitoring';
      document.spec.query = '';
    });

    // Assess
    expect(issues).toEqual(['spec.provider.address: expected an http(s) URL, got "prometheus.monitoring"', 'spec.query: expected a query, got ""']);
  });
});

describe('parseMetricsServer', () => {
  it.each([
    ['prometheus:http://prometheus.monitoring:9090', { type: 'prometheus', address: 'http://prometheus.monitoring:9090' }],
    [' web:http://stats.prod:8080 ', { type: 'web', address: 'http://stats.prod:8080' }],
  ])('reads %j as a provider', (value, expected) => {
    // Act
    const provider = parseMetricsServer(value, 'FLEDGE_METRICS_SERVER');

    // Assess
    expect(provider).toEqual(expected);
  });

  it('rejects an unknown provider prefix, naming the source and the value', () => {
    // Act
    const error = thrown(() => parseMetricsServer('datadog:https://api.datadoghq.com', 'FLEDGE_METRICS_SERVER'));

    // Assess
    expect(error).toBeInstanceOf(SpecValidationError);
    expect(error.message).toBe('FLEDGE_METRICS_SERVER: expected "prometheus:<url>" or "web:<url>", got "datadog:https://api.datadoghq.com"');
  });
});

describe('spec.provider', () => {
  it.each([
    ['gatewayapi:v1', 'gatewayapi'],
    ['gatewayapi:v1beta1', 'gatewayapi'],
    ['nginx', 'nginx'],
    ['istio', 'istio'],
  ])('reads Flagger\'s %s as the %s router', (provider, router) => {
    const canary = seedCanary((document) => {
      document.spec.provider = provider;
    });

    expect(canary.router).toBe(router);
  });
});
