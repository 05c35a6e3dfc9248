// Prometheus credentials from AWS Secrets Manager (moto_server): sent as the header Flagger sends, cached, re-read on rotation, never shown or planned.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchMetricData } from '../../lambdas/adapters/metrics/cloudwatch-metric-data';
import { SecretsManagerSecretStore } from '../../lambdas/adapters/secrets/secrets-manager-secret-store';
import { MetricProviderError } from '../../lambdas/core/errors';
import type { ProviderSpec } from '../../lambdas/core/spec';
import { buildDeps, metricProviderFor, metricProviders } from '../../lambdas/handlers/composition';
import type { MetricProviderContext } from '../../lambdas/handlers/composition';
import { createInitialize } from '../../lambdas/handlers/initialize';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator } from '../../local/kube-emulator';
import type { KubeEmulator } from '../../local/kube-emulator';
import { EVENT_FIXTURE_TEXT, baseManifests } from '../fuzz/generate';
import { closedPort } from '../helpers/prometheus-stub';
import { MOTO_CREDENTIALS, requireMotoServer, startMotoServer } from '../helpers/moto-server';
import type { MotoServer } from '../helpers/moto-server';

const REGION = 'us-east-1';
const TOKEN = 'tok-3f9a1c77e2b84d0c';
const ROTATED = 'tok-rotated-5b2e90aa41';
const PASSWORD = 'pw-8c1d2e3f4a5b';
const VECTOR_ONE = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '1'] }] } });

/** Every form a credential of these tests can take in a message or an output. */
const FORMS = [TOKEN, ROTATED, PASSWORD, Buffer.from(`reader:${PASSWORD}`).toString('base64')];
const leaked = (text: string) => FORMS.filter((form) => text.includes(form));

/** A Prometheus stand-in that records each request's Authorization and answers as `mode` says. */
interface RecordingPrometheus {
  readonly address: string;
  readonly port: number;
  readonly authorizations: (string | undefined)[];
  /** ok: vector(1); only <header>: 401 to anything else; echo: 500 with the Authorization header in the body. */
  mode: { kind: 'ok' } | { kind: 'only'; authorization: string } | { kind: 'echo' };
  close(): Promise<void>;
}

async function startRecordingPrometheus(): Promise<RecordingPrometheus> {
  const recorder: Partial<RecordingPrometheus> & { authorizations: (string | undefined)[]; mode: RecordingPrometheus['mode'] } = {
    authorizations: [],
    mode: { kind: 'ok' },
  };
  const server: Server = createServer((request, response) => {
    const authorization = request.headers.authorization;
    if (request.url?.startsWith('/api/v1/query')) recorder.authorizations.push(authorization);
    const mode = recorder.mode;
    if (mode.kind === 'echo') {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(`refused: ${authorization}`);
    } else if (mode.kind === 'only' && authorization !== mode.authorization) {
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'unauthorized', error: `bad credentials ${authorization}` }));
    } else {
      response.writeHead(200, { 'content-type': 'application/json' }).end(VECTOR_ONE);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(recorder, {
    address: `http://127.0.0.1:${port}`,
    port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  }) as RecordingPrometheus;
}

describe.skipIf(requireMotoServer().skip)('Prometheus with credentials from Secrets Manager (moto_server)', () => {
  let moto: MotoServer;
  let admin: SecretsManagerClient;
  let prometheus: RecordingPrometheus;
  let reads: number;
  let context: MetricProviderContext;
  let secretCount = 0;

  /** A secret with a fresh name, holding `value` as JSON. */
  async function createSecret(value: object): Promise<string> {
    const name = `prod/prometheus-${++secretCount}`;
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
    return name;
  }

  const spec = (name: string): ProviderSpec => ({ type: 'prometheus', address: prometheus.address, secretRef: { name } });
  const window = () => ({ seconds: 60, end: new Date() });

  beforeAll(async () => {
    moto = await startMotoServer();
    admin = new SecretsManagerClient({ region: REGION, endpoint: moto.url, credentials: MOTO_CREDENTIALS });
    prometheus = await startRecordingPrometheus();
  });

  afterAll(async () => {
    admin?.destroy();
    await prometheus?.close();
    await moto?.stop();
  });

  beforeEach(() => {
    prometheus.authorizations.length = 0;
    prometheus.mode = { kind: 'ok' };
    reads = 0;
    // A fresh container: an empty cache, GetSecretValue calls counted.
    const store = new SecretsManagerSecretStore({
      timeoutMs: 2000,
      createClient: () => {
        const client = new SecretsManagerClient({ region: REGION, endpoint: moto.url, credentials: MOTO_CREDENTIALS });
        client.middlewareStack.add(
          (next) => async (args) => {
            reads++;
            return next(args);
          },
          { step: 'initialize', name: 'countGetSecretValue' },
        );
        return client;
      },
    });
    context = { timeoutMs: 2000, secrets: store, cloudWatch: new CloudWatchMetricData(), awsCredentials: async () => MOTO_CREDENTIALS };
  });

  it('sends Authorization: Bearer <token> from the secret\'s "token"', async () => {
    // Prepare
    const name = await createSecret({ token: TOKEN });

    // Act
    const value = await metricProviderFor(spec(name), context).query('up', window());

    // Assess
    expect(value).toBe(1);
    expect(prometheus.authorizations).toEqual([`Bearer ${TOKEN}`]);
  });

  it('sends basic auth from "username" and "password"', async () => {
    const name = await createSecret({ username: 'reader', password: PASSWORD });

    await metricProviderFor(spec(name), context).checkOnline();

    expect(prometheus.authorizations).toEqual([`Basic ${Buffer.from(`reader:${PASSWORD}`).toString('base64')}`]);
  });

  it('reads the secret once for the many queries of a container, across provider instances', async () => {
    // Prepare
    const name = await createSecret({ token: TOKEN });

    // Act: AnalyzeMetrics builds a provider per metric and per analysis
    await Promise.all([1, 2, 3].map(() => metricProviderFor(spec(name), context).query('up', window())));
    await metricProviderFor(spec(name), context).query('up', window());

    // Assess
    expect(reads).toBe(1);
    expect(prometheus.authorizations).toEqual(Array(4).fill(`Bearer ${TOKEN}`));
  });

  it('reads a rotated secret again when Prometheus refuses the cached one, and retries once', async () => {
    // Prepare
    const name = await createSecret({ token: TOKEN });
    await metricProviderFor(spec(name), context).query('up', window());
    await admin.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ token: ROTATED }) }));
    prometheus.mode = { kind: 'only', authorization: `Bearer ${ROTATED}` };

    // Act
    const value = await metricProviderFor(spec(name), context).query('up', window());

    // Assess
    expect(value).toBe(1);
    expect(prometheus.authorizations).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${ROTATED}`]);
    expect(reads).toBe(2);
  });

  it('fails naming the secret when it does not exist, without calling Prometheus', async () => {
    // Act
    const error = await metricProviderFor(spec('prod/missing'), context)
      .query('up', window())
      .catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect((error as Error).message).toMatch(
      new RegExp(`^Prometheus at ${prometheus.address}: Secrets Manager secret "prod/missing" cannot be read: ResourceNotFoundException: `),
    );
    expect(prometheus.authorizations).toEqual([]);
  });

  it('names the keys of a secret that holds neither a token nor a username and password, not their values', async () => {
    const name = await createSecret({ user: 'reader', pass: PASSWORD });

    const error = await metricProviderFor(spec(name), context)
      .query('up', window())
      .catch((e: Error) => e);

    expect((error as Error).message).toBe(
      `Prometheus at ${prometheus.address}: Secrets Manager secret "${name}" has keys "user", "pass"; ` +
        'expected a JSON object with "token", or "username" and "password" (non-empty strings)',
    );
  });

  it('never shows the credential, even when Prometheus echoes it back in an error', async () => {
    // Prepare
    const bearer = await createSecret({ token: TOKEN });
    const basic = await createSecret({ username: 'reader', password: PASSWORD });
    prometheus.mode = { kind: 'echo' };

    // Act
    const errors = await Promise.all(
      [bearer, basic].map((name) =>
        metricProviderFor(spec(name), context)
          .query('up', window())
          .catch((e: Error) => e),
      ),
    );

    // Assess
    expect(errors.map((error) => (error as Error).message)).toEqual([
      `Prometheus at ${prometheus.address} answered HTTP 500 to up: refused: Bearer ***`,
      `Prometheus at ${prometheus.address} answered HTTP 500 to up: refused: Basic ***`,
    ]);
  });

  describe('through Initialize, whose output the execution history keeps', () => {
    let emulator: KubeEmulator;
    let dir: string;

    beforeAll(async () => {
      emulator = await startKubeEmulator({ rolloutDelayMs: 20 });
      emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1' }));
      dir = await mkdtemp(join(tmpdir(), 'fledge-secret-'));
    });

    afterAll(async () => {
      await emulator?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** The base manifests, their error-rate template reading its credentials from `secret`. */
    async function initialize(secret: string) {
      const files = baseManifests({ metricsPort: prometheus.port, closedPort: await closedPort() });
      const template = parse(files['error-rate.yaml']);
      template.spec.provider.secretRef = { name: secret };
      files['error-rate.yaml'] = stringify(template);
      await Promise.all(Object.entries(files).map(([file, text]) => writeFile(join(dir, file), text)));
      const deps = {
        ...buildDeps({ manifestsDir: dir, kubeServer: emulator.url, metricTimeoutMs: 2000 }),
        metricProvider: metricProviders(2000, { secrets: context.secrets }),
      };
      return createInitialize(deps)({ event: JSON.parse(EVENT_FIXTURE_TEXT), execution: 'arn:aws:states:us-east-1:123456789012:execution:fledge:secret' });
    }

    it('plans with the secret\'s name only, having checked Prometheus with the credential', async () => {
      // Prepare
      const name = await createSecret({ token: TOKEN });

      // Act
      const output = await initialize(name);

      // Assess
      const text = JSON.stringify(output);
      expect('rollout' in output).toBe(true);
      expect(leaked(text)).toEqual([]);
      expect(text).toContain(`"secretRef":{"name":"${name}"}`);
      expect(prometheus.authorizations).toContain(`Bearer ${TOKEN}`);
    });

    it('rejects with a reason that does not show the credential Prometheus refused', async () => {
      // Prepare
      const name = await createSecret({ token: TOKEN });
      prometheus.mode = { kind: 'only', authorization: 'Bearer someone-else' };

      // Act
      const error = await initialize(name).catch((e: Error) => e);

      // Assess
      expect(error).toBeInstanceOf(MetricProviderError);
      expect((error as Error).message).toContain('answered HTTP 401');
      expect(leaked(`${(error as Error).message} ${(error as Error).stack}`)).toEqual([]);
    });
  });
});
