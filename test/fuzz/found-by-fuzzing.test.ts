// The smallest reproduction of each problem the fuzz tests (entry-points.test.ts) found, one test per problem, named by the behaviour wanted.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifestText } from '../../lambdas/adapters/manifests/folder-manifests';
import { WebProvider } from '../../lambdas/adapters/metrics/web-provider';
import { parseImagePush } from '../../lambdas/core/ecr-event';
import { parseMetricsServer } from '../../lambdas/core/spec';
import { buildDeps } from '../../lambdas/handlers/composition';
import { createInitialize } from '../../lambdas/handlers/initialize';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator } from '../../local/kube-emulator';
import type { KubeEmulator } from '../../local/kube-emulator';
import { runRollout } from '../../local/runner';
import { closedPort, startPrometheusStub } from '../helpers/prometheus-stub';
import type { PrometheusStub } from '../helpers/prometheus-stub';
import { CANARY_FIXTURE_TEXT, EVENT_FIXTURE_TEXT, SECRET, TEMPLATE_FIXTURE_TEXT, baseManifests } from './generate';

const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:fledge-rollout:found-by-fuzzing';
const STABLE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';

function thrown(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected it to throw');
}

/** Where in a value a string occurs: `$.rollout.metrics[0].provider.address`… */
function pathsHolding(value: unknown, needle: string, at = '$'): string[] {
  if (typeof value === 'string') return value.includes(needle) ? [at] : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => pathsHolding(child, needle, Array.isArray(value) ? `${at}[${key}]` : `${at}.${key}`));
}

const parseText = (text: string, source: string) => parseManifestText(text, source, { canaries: [], templates: [] });

/** The seed MetricTemplate with the planted credential in its address and in an Authorization header. */
function templateWithCredentials(headerLines = `      Authorization: Bearer ${SECRET}`): string {
  return TEMPLATE_FIXTURE_TEXT.replace(
    '    address: http://prometheus.monitoring:9090',
    `    address: http://fledge:${SECRET}@prometheus.monitoring:9090\n    headers:\n${headerLines}`,
  );
}

describe('manifests the loader must refuse with a SpecValidationError', () => {
  it('refuses a YAML alias to its own node (today: TypeError "Converting circular structure to JSON" from formatIssue)', () => {
    // Prepare
    const text = CANARY_FIXTURE_TEXT.replace(/stepWeight: 10.*$/m, 'stepWeights: &w [10, *w]');

    // Act
    const error = thrown(() => parseText(text, 'canary.yaml'));

    // Assess
    expect(error.name).toBe('SpecValidationError');
    expect(error.message).toContain('canary.yaml: spec.analysis.stepWeights');
  });

  it('refuses an alias to an anchor that does not exist (today: ReferenceError from document.toJS)', () => {
    const text = CANARY_FIXTURE_TEXT.replace(/stepWeight: 10.*$/m, 'stepWeight: *nope');

    const error = thrown(() => parseText(text, 'canary.yaml'));

    expect(error.name).toBe('SpecValidationError');
    expect(error.message).toContain('canary.yaml');
  });

  it('refuses an alias bomb (today: ReferenceError "Excessive alias count" from document.toJS)', () => {
    const bomb = [
      'x-a: &a [x, x, x, x, x, x, x, x, x, x]',
      'x-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'x-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'x-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');

    const error = thrown(() => parseText(`${CANARY_FIXTURE_TEXT}${bomb}\n`, 'canary.yaml'));

    expect(error.name).toBe('SpecValidationError');
    expect(error.message).toContain('canary.yaml');
  });
});

describe('errors that must not show a credential', () => {
  it('names a MetricTemplate address it cannot read without its userinfo', () => {
    const text = templateWithCredentials().replace('prometheus.monitoring:9090', '[::1');

    const error = thrown(() => parseText(text, 'error-rate.yaml'));

    expect(error.name).toBe('SpecValidationError');
    expect(error.message).toContain('spec.provider.address');
    expect(error.message).not.toContain(SECRET);
  });

  it('names a header whose value is not a string without showing the value', () => {
    const text = templateWithCredentials(`      Authorization: [Bearer ${SECRET}]`);

    const error = thrown(() => parseText(text, 'error-rate.yaml'));

    expect(error.name).toBe('SpecValidationError');
    expect(error.message).toContain('spec.provider.headers.Authorization');
    expect(error.message).not.toContain(SECRET);
  });

  it('reports a YAML syntax error by line and column without quoting the source line', () => {
    const line = `      Authorization: Bearer ${SECRET}`;
    const text = templateWithCredentials(`${line}\n${line}`);

    const error = thrown(() => parseText(text, 'error-rate.yaml'));

    expect(error.name).toBe('SpecValidationError');
    expect(error.message).toMatch(/^error-rate\.yaml: invalid YAML at line \d+, column \d+/);
    expect(error.message).not.toContain(SECRET);
  });

  it('names a spec.fledge.metricsServer that is not http(s) without its userinfo', () => {
    const error = thrown(() => parseMetricsServer(`prometheus:ftp://fledge:${SECRET}@prometheus.monitoring:9090`, 'spec.fledge.metricsServer'));

    expect(error.name).toBe('SpecValidationError');
    expect(error.message).not.toContain(SECRET);
  });

  it('names a web metric address that is not http(s) without its userinfo', () => {
    // z.url() accepts any scheme, so an ftp: or mailto: address passes validation and fails here.
    const error = thrown(() => new WebProvider({ address: `ftp://fledge:${SECRET}@metrics.example.com/`, jsonPath: '$.value' }));

    expect(error.name).toBe('ConfigurationError');
    expect(error.message).not.toContain(SECRET);
  });
});

describe('events parseImagePush must refuse with an InvalidEventError', () => {
  it('refuses a field nested 6000 levels deep, 12 KB of JSON (today: RangeError from JSON.stringify)', () => {
    const event = JSON.parse(EVENT_FIXTURE_TEXT);
    event.detail.result = JSON.parse(`${'['.repeat(6000)}${']'.repeat(6000)}`);

    const error = thrown(() => parseImagePush(event));

    expect(error.name).toBe('InvalidEventError');
    expect(error.message).toMatch(/^detail\.result: /);
  });
});

describe('Initialize against the Kubernetes emulator', () => {
  let emulator: KubeEmulator;
  let metrics: PrometheusStub;
  let dir: string;

  beforeAll(async () => {
    emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
    emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: STABLE }));
    metrics = await startPrometheusStub();
    dir = await mkdtemp(join(tmpdir(), 'fledge-found-'));
  });

  afterAll(async () => {
    await metrics?.close();
    await emulator?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function initialize(change: (files: Record<string, string>) => void = () => {}) {
    const files = baseManifests({ metricsPort: metrics.port, closedPort: await closedPort() });
    change(files);
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
    const deps = buildDeps({ manifestsDir: dir, kubeServer: emulator.url, metricTimeoutMs: 1000 });
    return createInitialize(deps)({ event: JSON.parse(EVENT_FIXTURE_TEXT), execution: EXECUTION });
  }

  it('plans from the valid base manifests, with nothing secret in its output', async () => {
    const output = await initialize();

    expect('rollout' in output).toBe(true);
    expect(pathsHolding(output, SECRET)).toEqual([]);
  });

  it('refuses metric credentials in a manifest (the execution history would keep them), naming where without showing them', async () => {
    const error = await initialize((files) => {
      files['error-rate.yaml'] = templateWithCredentials();
    }).catch((e: Error) => e);

    expect((error as Error).name).toBe('SpecValidationError');
    expect((error as Error).message).toContain('spec.provider.address: credentials do not belong in a manifest');
    expect((error as Error).message).toContain('spec.provider.headers.Authorization: credentials do not belong in a manifest');
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('never plans a bake of a fraction of a second: the Bake state waits whole seconds (SecondsPath)', async () => {
    // "1500ms" is a valid duration; 1.5 s is not a wait Step Functions can do.
    const outcome = await initialize((files) => {
      files['canary.yaml'] = files['canary.yaml'].replace('interval: 1m', 'interval: 1500ms');
    }).catch((error: Error) => error);

    if (outcome instanceof Error) {
      expect(outcome.name).toBe('SpecValidationError');
    } else {
      const { intervalSeconds } = (outcome as { rollout: { intervalSeconds: number } }).rollout;
      expect(Number.isInteger(intervalSeconds), `planned intervalSeconds ${intervalSeconds}`).toBe(true);
    }
  });
});

describe('the state machine', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fledge-found-sm-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Initialize throws InvalidEventError, but the Catch's ResultPath ($.error) cannot be set on a
  // non-object input, so the execution fails with the interpreter's own error and the reason is lost.
  it.each([
    ['a string', 'garbage'],
    ['an array', []],
  ])('rejects %s as execution input with InvalidEventError, as Initialize does', async (_what, input) => {
    // Initialize refuses the input before it reads a manifest or the cluster: nothing needs to answer.
    const deps = buildDeps({ manifestsDir: dir, kubeServer: 'http://127.0.0.1:9', metricTimeoutMs: 1000 });

    const result = await runRollout({ deps, event: input, timeFactor: 0.0005, retryIntervalMs: 10 });

    expect(result.outcome).toBe('rejected');
    expect(result.error).toBe('InvalidEventError');
  });

  it('rejects null as execution input without reaching Initialize (the local interpreter cannot read "$" of null)', async () => {
    // EventBridge never sends null; aws-local-stepfunctions fails the ReceivePush Pass state with
    // States.Runtime where AWS would pass null on. Either way nothing runs and nothing is written.
    const deps = buildDeps({ manifestsDir: dir, kubeServer: 'http://127.0.0.1:9', metricTimeoutMs: 1000 });

    const result = await runRollout({ deps, event: null, timeFactor: 0.0005, retryIntervalMs: 10 });

    expect(result.outcome).toBe('rejected');
    expect(result.statesEntered).toEqual(['ReceivePush']);
  });
});
