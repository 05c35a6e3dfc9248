// Reaching an EKS cluster: FLEDGE_EKS_CLUSTER, DescribeCluster (moto_server) for the endpoint and CA, an IAM token on every request, TLS verified against the cluster CA.
import { createServer as createHttpsServer } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateClusterCommand, EKSClient, type DescribeClusterCommandOutput } from '@aws-sdk/client-eks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNDISCOVERED_SERVER, kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { clearEksClusterCache, describeEksCluster, eksKubernetesEndpoint } from '../../lambdas/adapters/kubernetes/eks-endpoint';
import { EKS_TOKEN_PREFIX, eksToken, type AwsCredentials } from '../../lambdas/adapters/kubernetes/eks-token';
import { KubernetesWorkloads } from '../../lambdas/adapters/kubernetes/kubernetes-workloads';
import { ConfigurationError, KubernetesRequestError, KubernetesTransientError } from '../../lambdas/core/errors';
import { buildDeps } from '../../lambdas/handlers/composition';
import { configFromEnv, kubernetesTarget } from '../../lambdas/handlers/config';
import { seedObjects } from '../../local/demo/world';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { MOTO_ACCOUNT, MOTO_CREDENTIALS, requireMotoServer, startMotoServer, type MotoServer } from '../helpers/moto-server';

const REGION = 'us-west-2';
const SIGNING_CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const T0 = new Date('2026-01-15T10:20:30Z');

/**
 * A cluster CA and the API server certificate it signed (for 127.0.0.1; valid 2000–2100), made
 * once with openssl for this test, as EKS has one CA per cluster signing its API server's
 * certificate. Test-only key material: it protects nothing.
 */
const CLUSTER_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBXzCCAQSgAwIBAgICEAAwCgYIKoZIzj0EAwIwFTETMBEGA1UEAwwKa3ViZXJu
ZXRlczAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowFTETMBEGA1UE
AwwKa3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIo+jmkr/qgK
aZOay1H1lDxsyJdgld7nmpno7O1jZTm58pFaKSaQ8tn432JIpnQFDv/S4cCqkWB4
pWssSWAJAJmjQjBAMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgKEMB0G
A1UdDgQWBBSCgzaS4WPdiLh+JK9uccWpJBtKXjAKBggqhkjOPQQDAgNJADBGAiEA
mF6oAk9sIRTok8D9u29ohmM9wJiunTkb4y2sa4Ge9hgCIQCVZipgK6BEuE5iG5vj
UWt4RfllAz0OM1YZLToQu4VAeg==
-----END CERTIFICATE-----
`;
const API_SERVER_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBtDCCAVmgAwIBAgICEAEwCgYIKoZIzj0EAwIwFTETMBEGA1UEAwwKa3ViZXJu
ZXRlczAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowGTEXMBUGA1UE
AwwOa3ViZS1hcGlzZXJ2ZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT9JwS8
J67Uqs+g1dCjqcvbGkXruerZxnSkVEUa0zu42GL/J7sFmTcojkK4H+bEsfDaukAx
xUfu8d94xPQIF6eno4GSMIGPMAwGA1UdEwEB/wQCMAAwGgYDVR0RBBMwEYcEfwAA
AYIJbG9jYWxob3N0MBMGA1UdJQQMMAoGCCsGAQUFBwMBMA4GA1UdDwEB/wQEAwIH
gDAfBgNVHSMEGDAWgBSCgzaS4WPdiLh+JK9uccWpJBtKXjAdBgNVHQ4EFgQUfeRf
CT3cKiIVxI3+2FMCn3FHGrIwCgYIKoZIzj0EAwIDSQAwRgIhAM2NHDt3re/ArA4W
coZSqW/mn7PxhARNdsbVQI4c5c9pAiEAvmg9yKk5Pa2NXhVDPgdemgFbXM0ZtyuL
mQ1EAWaDiMs=
-----END CERTIFICATE-----
`;
const API_SERVER_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1PqrxDZXrcrnFmHq
1f5IvYXoSgB3B4Yl8/41b6cJyIChRANCAAT9JwS8J67Uqs+g1dCjqcvbGkXruerZ
xnSkVEUa0zu42GL/J7sFmTcojkK4H+bEsfDaukAxxUfu8d94xPQIF6en
-----END PRIVATE KEY-----
`;
/** As DescribeCluster returns certificateAuthority.data: the PEM, base64-encoded. */
const CLUSTER_CA_DATA = Buffer.from(CLUSTER_CA_PEM).toString('base64');

const decodedUrl = (token: string) => new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));

describe('Kubernetes target configuration', () => {
  const base = { FLEDGE_MANIFESTS_DIR: '/manifests' };

  it('reads FLEDGE_EKS_CLUSTER and AWS_REGION as an EKS target', () => {
    // Act
    const config = configFromEnv({ ...base, FLEDGE_EKS_CLUSTER: 'prod', AWS_REGION: 'eu-west-1' });

    // Assess
    expect(config.eksCluster).toBe('prod');
    expect(config.awsRegion).toBe('eu-west-1');
    expect(config.kubeServer).toBeUndefined();
    expect(kubernetesTarget(config)).toEqual({ kind: 'eks', cluster: 'prod', region: 'eu-west-1' });
  });

  it('reads FLEDGE_KUBE_SERVER as a plain API server, whatever AWS_REGION says', () => {
    // Act
    const config = configFromEnv({ ...base, FLEDGE_KUBE_SERVER: 'http://127.0.0.1:8001', AWS_REGION: 'eu-west-1' });

    // Assess
    expect(kubernetesTarget(config)).toEqual({ kind: 'server', server: 'http://127.0.0.1:8001' });
    expect(config.eksCluster).toBeUndefined();
  });

  it.each([
    ['neither is set', {}],
    ['both are set', { FLEDGE_EKS_CLUSTER: 'prod', FLEDGE_KUBE_SERVER: 'http://127.0.0.1:8001', AWS_REGION: 'us-west-2' }],
    ['neither is set', { FLEDGE_EKS_CLUSTER: '', FLEDGE_KUBE_SERVER: '' }],
  ])('asks for exactly one of FLEDGE_EKS_CLUSTER and FLEDGE_KUBE_SERVER when %s', (situation, env) => {
    expect(() => configFromEnv({ ...base, ...env })).toThrow(ConfigurationError);
    expect(() => configFromEnv({ ...base, ...env })).toThrow(
      `environment variables FLEDGE_EKS_CLUSTER and FLEDGE_KUBE_SERVER: set exactly one (FLEDGE_EKS_CLUSTER, the EKS cluster's name, on AWS; FLEDGE_KUBE_SERVER, an API server URL, locally); ${situation}`,
    );
  });

  it('needs AWS_REGION with FLEDGE_EKS_CLUSTER', () => {
    expect(() => configFromEnv({ ...base, FLEDGE_EKS_CLUSTER: 'prod' })).toThrow(
      "environment variable AWS_REGION is not set (FLEDGE_EKS_CLUSTER needs the cluster's region; Lambda sets it)",
    );
  });

  it.each(['-prod', 'prod.example', 'a'.repeat(101), 'prod cluster'])('refuses the cluster name %j, naming the variable', (name) => {
    expect(() => configFromEnv({ ...base, FLEDGE_EKS_CLUSTER: name, AWS_REGION: 'us-west-2' })).toThrow(
      `environment variable FLEDGE_EKS_CLUSTER: expected an EKS cluster name (up to 100 letters, digits, - and _, starting with a letter or digit), got ${JSON.stringify(name)}`,
    );
  });

  it.each(['us-west', 'evil.example/x', 'US-WEST-2'])('refuses the region %j: it names the STS host the token is for', (region) => {
    expect(() => configFromEnv({ ...base, FLEDGE_EKS_CLUSTER: 'prod', AWS_REGION: region })).toThrow(
      `environment variable AWS_REGION: expected an AWS region such as us-west-2, got ${JSON.stringify(region)}`,
    );
  });

  it('is checked by buildDeps for configurations built in code', () => {
    expect(() => buildDeps({ manifestsDir: '/m', metricTimeoutMs: 1000 })).toThrow(ConfigurationError);
    expect(() => buildDeps({ manifestsDir: '/m', metricTimeoutMs: 1000, kubeServer: 'http://127.0.0.1:1', eksCluster: 'prod', awsRegion: REGION })).toThrow(
      /set exactly one .* both are set/,
    );
    expect(() => buildDeps({ manifestsDir: '/m', metricTimeoutMs: 1000, eksCluster: 'prod' })).toThrow(/AWS_REGION is not set/);
  });
});

describe.skipIf(requireMotoServer().skip)('EKS access, with DescribeCluster from moto_server', () => {
  let moto: MotoServer;
  /** moto's own cluster record, as DescribeCluster returns it. */
  let motoCluster: { endpoint: string; caData: string };
  let describeCalls = 0;

  /** An EKS client that talks to moto and counts DescribeCluster calls. */
  function motoEks(): EKSClient {
    const client = new EKSClient({ region: REGION, endpoint: moto.url, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DescribeClusterCommand') describeCalls++;
        return next(args);
      },
      { step: 'initialize', name: 'countDescribeCluster' },
    );
    return client;
  }

  async function createCluster(name: string): Promise<DescribeClusterCommandOutput['cluster']> {
    const created = await motoEks().send(
      new CreateClusterCommand({ name, roleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/eks-cluster`, resourcesVpcConfig: { subnetIds: ['subnet-0123456789abcdef0'] } }),
    );
    return created.cluster;
  }

  beforeAll(async () => {
    moto = await startMotoServer();
    const cluster = await createCluster('fledge-e2e');
    motoCluster = { endpoint: cluster!.endpoint!, caData: cluster!.certificateAuthority!.data! };
  });

  afterAll(async () => {
    await moto?.stop();
  });

  beforeEach(() => {
    clearEksClusterCache();
    describeCalls = 0;
  });

  describe('the endpoint and CA', () => {
    it('come from DescribeCluster into the KubeConfig cluster on the first request, TLS verified against the cluster CA', async () => {
      // Prepare
      const kubeConfig = kubeConfigFor(eksKubernetesEndpoint({ cluster: 'fledge-e2e', region: REGION, eksClient: motoEks(), credentials: async () => SIGNING_CREDENTIALS }));
      const before = { ...kubeConfig.getCurrentCluster()! };

      // Act
      const cluster = await kubeConfig.resolveCluster();

      // Assess
      expect(before.server).toBe(UNDISCOVERED_SERVER);
      expect(motoCluster.endpoint).toMatch(/^https:\/\/.+\.eks\.amazonaws\.com\/?$/);
      expect(cluster.server).toBe(motoCluster.endpoint.replace(/\/$/, ''));
      expect(cluster.caData).toBe(motoCluster.caData);
      expect(cluster.skipTLSVerify).toBe(false);
      expect(kubeConfig.getCurrentCluster()).toEqual(cluster);
    });

    it('are asked for once per cluster and region, however many KubeConfigs a warm container builds', async () => {
      // Act
      const first = await kubeConfigFor(eksKubernetesEndpoint({ cluster: 'fledge-e2e', region: REGION, eksClient: motoEks() })).resolveCluster();
      const second = await kubeConfigFor(eksKubernetesEndpoint({ cluster: 'fledge-e2e', region: REGION, eksClient: motoEks() })).resolveCluster();
      await describeEksCluster({ cluster: 'fledge-e2e', region: REGION, client: motoEks() });

      // Assess
      expect(second).toEqual(first);
      expect(describeCalls).toBe(1);
    });

    it('are asked for again after a failed DescribeCluster: a failure is not cached', async () => {
      // Prepare
      const kubeConfig = kubeConfigFor(eksKubernetesEndpoint({ cluster: 'created-late', region: REGION, eksClient: motoEks() }));

      // Act
      const error = await kubeConfig.resolveCluster().catch((err: unknown) => err);
      await createCluster('created-late');
      const cluster = await kubeConfig.resolveCluster();

      // Assess
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toBe(
        'EKS DescribeCluster for cluster created-late in us-west-2: no such cluster (environment variables FLEDGE_EKS_CLUSTER and AWS_REGION)',
      );
      expect(cluster.server).toMatch(/^https:\/\/.+\.eks\.amazonaws\.com$/);
      expect(describeCalls).toBe(2);
    });

    it('turns an EKS API that does not answer into a KubernetesTransientError the state machine retries', async () => {
      // Prepare: nothing listens on port 9.
      const unreachable = new EKSClient({ region: REGION, endpoint: 'http://127.0.0.1:9', credentials: MOTO_CREDENTIALS, maxAttempts: 1 });

      // Act
      const error = await describeEksCluster({ cluster: 'fledge-e2e', region: REGION, client: unreachable }).catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(KubernetesTransientError);
      expect((error as Error).message).toMatch(/^EKS DescribeCluster for cluster fledge-e2e in us-west-2 failed: .*ECONNREFUSED/);
    });

    it('are found by the composition root from FLEDGE_EKS_CLUSTER with the default client and credential chain', async () => {
      // Prepare: the SDK's own environment variables point the default EKS client at moto.
      const saved = { ...process.env };
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_EKS: moto.url,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      });
      try {
        const config = configFromEnv({ FLEDGE_MANIFESTS_DIR: '/m', FLEDGE_EKS_CLUSTER: 'not-created', AWS_REGION: REGION, FLEDGE_KUBE_TIMEOUT_MS: '2000' });
        const deps = buildDeps(config);

        // Act
        const error = await deps.workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

        // Assess: the first request ran DescribeCluster against moto, and moto knows no such cluster.
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as Error).message).toContain('EKS DescribeCluster for cluster not-created in us-west-2: no such cluster');
      } finally {
        process.env = saved;
      }
    });
  });

  /**
   * The Kubernetes side. moto's cluster record names an endpoint on eks.amazonaws.com that does
   * not exist and a random "CA", so the test's EKS client rewrites those two fields of moto's
   * DescribeCluster answer, as if the cluster lived here: its endpoint becomes an HTTPS server
   * on 127.0.0.1 with a certificate signed by CLUSTER_CA_PEM, whose data becomes the CA. That
   * server records each request's Authorization header and passes the request on to the
   * Kubernetes API emulator. Everything else is the production path: DescribeCluster through
   * the SDK, the discovered KubeConfig, the token provider, client-node, TLS.
   *
   * The emulator checks one fixed token (`bearerToken`). With fixed credentials and a fixed
   * clock the token is deterministic, so the test computes it with eksToken, whose output
   * eks-token.test.ts pins to `aws eks get-token`'s and to a signature recomputed by hand. A
   * token signed at any other time, or none, is refused with 401, as EKS would.
   */
  describe('requests to the cluster', () => {
    let emulator: KubeEmulator;
    let front: { url: string; authorizations: (string | undefined)[]; close(): Promise<void> };
    let expectedToken: string;
    let nowMs: number;

    /** The test's EKS client: moto's answer, with the endpoint and CA of the local HTTPS front. */
    function eksPointingHere(): EKSClient {
      const client = motoEks();
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (context.commandName === 'DescribeClusterCommand') {
            const cluster = (result.output as DescribeClusterCommandOutput).cluster!;
            cluster.endpoint = front.url;
            cluster.certificateAuthority = { data: CLUSTER_CA_DATA };
          }
          return result;
        },
        { step: 'initialize', name: 'asIfTheClusterWereHere' },
      );
      return client;
    }

    const workloadsFor = (options: { tokens?: boolean; caData?: 'cluster' | 'none' } = {}) => {
      const endpoint = eksKubernetesEndpoint({
        cluster: 'fledge-e2e',
        region: REGION,
        eksClient: eksPointingHere(),
        credentials: async () => SIGNING_CREDENTIALS,
        now: () => new Date(nowMs),
        timeoutMs: 2_000,
      });
      const kubeConfig = kubeConfigFor({
        discover: async () => {
          const address = await endpoint.discover();
          return options.caData === 'none' ? { server: address.server } : address;
        },
        tokenProvider: options.tokens === false ? undefined : endpoint.tokenProvider,
        timeoutMs: 2_000,
      });
      return new KubernetesWorkloads(kubeConfig);
    };

    beforeEach(async () => {
      nowMs = T0.getTime();
      expectedToken = await eksToken({ cluster: 'fledge-e2e', region: REGION, credentials: SIGNING_CREDENTIALS, signingDate: T0 });
      emulator = await startKubeEmulator({ rolloutDelayMs: 20, bearerToken: expectedToken });
      emulator.seed(seedObjects({ namespace: 'prod', name: 'web', stableImage: 'web:1.0' }));
      const authorizations: (string | undefined)[] = [];
      const server = createHttpsServer({ cert: API_SERVER_CERT_PEM, key: API_SERVER_KEY_PEM }, (req, res) => {
        authorizations.push(req.headers.authorization);
        const upstream = httpRequest(`${emulator.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      front = {
        url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
        authorizations,
        close: async () => {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        },
      };
    });

    afterEach(async () => {
      await front.close();
      await emulator.close();
    });

    it('carry Authorization: Bearer k8s-aws-v1.… for the cluster, over TLS verified against the cluster CA', async () => {
      // Prepare
      const workloads = workloadsFor();

      // Act
      const images = await workloads.getContainerImages('prod', 'web');

      // Assess
      expect(images).toEqual({ web: 'web:1.0' });
      expect(front.authorizations).toEqual([`Bearer ${expectedToken}`]);
      const url = decodedUrl(expectedToken);
      expect(url.host).toBe('sts.us-west-2.amazonaws.com');
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
      expect(emulator.requests.map((r) => r.status)).toEqual([200]);
      expect(describeCalls).toBe(1);
    });

    it('reuse the token while it is young and carry a new one, request by request, once it is 10 minutes old', async () => {
      // Prepare
      const workloads = workloadsFor();
      await workloads.getContainerImages('prod', 'web');
      nowMs += 9 * 60_000;
      await workloads.getContainerImages('prod', 'web');

      // Act
      nowMs += 60_000;
      const error = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess: the third request carried a token signed 10 minutes later, which this emulator (knowing only the first) refuses.
      const [first, second, third] = front.authorizations.map((header) => header!.replace(/^Bearer /, ''));
      expect(second).toBe(first);
      expect(third).not.toBe(first);
      expect(third.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
      expect(decodedUrl(third).searchParams.get('X-Amz-Date')).toBe('20260115T103030Z');
      expect(error).toBeInstanceOf(KubernetesRequestError);
      expect(describeCalls).toBe(1);
    });

    it('refused with 401 fail as a KubernetesRequestError naming the call, never the token', async () => {
      // Prepare: a token signed at another time than the one the API server accepts.
      nowMs = T0.getTime() + 60_000;
      const workloads = workloadsFor();

      // Act
      const error = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(KubernetesRequestError);
      expect((error as Error).name).toBe('KubernetesRequestError');
      expect((error as Error).message).toBe(
        "read Deployment prod/web failed: 401 Unauthorized (the API server did not accept Fledge's bearer token; on EKS, the function's IAM role needs an access entry on the cluster)",
      );
      const sent = front.authorizations[0]!.replace(/^Bearer /, '');
      expect(sent.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(sent);
      expect((error as Error).message).not.toContain(EKS_TOKEN_PREFIX);
    });

    it('without a token are refused with 401, as a KubernetesRequestError', async () => {
      // Prepare
      const workloads = workloadsFor({ tokens: false });

      // Act
      const error = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess
      expect(front.authorizations).toEqual([undefined]);
      expect(error).toBeInstanceOf(KubernetesRequestError);
      expect((error as Error).message).toMatch(/^read Deployment prod\/web failed: 401 Unauthorized/);
    });

    it('do not go to a server whose certificate the cluster CA did not sign: no request, no token sent', async () => {
      // Prepare: the system CAs instead of the cluster's; they did not sign the API server's certificate.
      const workloads = workloadsFor({ caData: 'none' });

      // Act
      const error = await workloads.getContainerImages('prod', 'web').catch((err: unknown) => err);

      // Assess
      expect(error).toBeInstanceOf(KubernetesRequestError);
      expect((error as Error).message).toMatch(/^read Deployment prod\/web failed: the API server's TLS certificate did not verify against the cluster CA \(UNABLE_TO_/);
      expect(front.authorizations).toEqual([]);
      expect(emulator.requests).toEqual([]);
    });
  });
});
