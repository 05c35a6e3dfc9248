// AlbTargetGroups: a canary's TargetGroupBinding read from the Kubernetes API emulator, its target group's load balancer from moto_server's ELBv2 (and stubs for what moto never answers).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../lambdas/adapters/kubernetes/client';
import { AlbTargetGroups, loadBalancerDimension, targetGroupDimension } from '../../lambdas/adapters/routers/alb-target-groups';
import type { CanaryTargetGroupQuery } from '../../lambdas/adapters/routers/alb-target-groups';
import { KubernetesTransientError, MetricProviderError, TargetNotFoundError } from '../../lambdas/core/errors';
import { startKubeEmulator, type KubeEmulator } from '../../local/kube-emulator';
import { MOTO_ACCOUNT, MOTO_CREDENTIALS, requireMotoServer, startMotoServer } from '../helpers/moto-server';
import type { MotoServer } from '../helpers/moto-server';
import { motoElb, type MotoElb } from '../helpers/moto-elb';
import { rejection } from '../helpers/rejection';

/** Not moto's default region, and not the clients' default below: a lookup in the wrong region finds nothing. */
const REGION = 'eu-west-1';
const DEFAULT_REGION = 'us-east-1';

const PROD_STACK = { 'ingress.k8s.aws/stack-namespace': 'prod', 'ingress.k8s.aws/stack-name': 'web' };
const SHOP_GROUP = { 'ingress.k8s.aws/stack': 'shop' };
const TGB = 'elbv2.k8s.aws/v1beta1';

const CANARY_QUERY: CanaryTargetGroupQuery = { namespace: 'prod', service: 'web-canary', port: 80, stackLabels: PROD_STACK };

/** A well-formed target group ARN for tests that never reach ELB. */
const SOME_TG_ARN = `arn:aws:elasticloadbalancing:${REGION}:${MOTO_ACCOUNT}:targetgroup/k8s-prod-webcanar-0a1b2c3d4e/0123456789abcdef`;

/** A TargetGroupBinding as the AWS Load Balancer Controller writes it for an Ingress backend. */
function binding(name: string, service: string, port: number | string, targetGroupARN: string | undefined, labels: Record<string, string> = PROD_STACK) {
  return {
    apiVersion: TGB,
    kind: 'TargetGroupBinding',
    metadata: { name, namespace: 'prod', labels: { ...labels, 'ingress.k8s.aws/resource': `prod/web-${service}:${port}` } },
    spec: { serviceRef: { name: service, port }, ...(targetGroupARN === undefined ? {} : { targetGroupARN }), targetType: 'ip' },
  };
}

/** A client factory for tests that must not reach ELB: any call fails loudly. */
const noElb = (): ElasticLoadBalancingV2Client => {
  throw new Error('no Elastic Load Balancing call expected');
};

describe('targetGroupDimension and loadBalancerDimension', () => {
  it('take the part of a target group ARN after the account', () => {
    expect(targetGroupDimension('arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-prod-webcanar-0a1b2c3d4e/0123456789abcdef')).toBe(
      'targetgroup/k8s-prod-webcanar-0a1b2c3d4e/0123456789abcdef',
    );
    expect(targetGroupDimension('arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/tg/0123456789abcdef')).toBe('targetgroup/tg/0123456789abcdef');
  });

  it('take the part of a load balancer ARN after loadbalancer/', () => {
    expect(loadBalancerDimension('arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/k8s-prod-web-1a2b3c4d5e/fedcba9876543210')).toBe(
      'app/k8s-prod-web-1a2b3c4d5e/fedcba9876543210',
    );
  });

  it.each([
    ['a load balancer ARN', 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/fedcba9876543210'],
    ['a target group name', 'k8s-prod-webcanar-0a1b2c3d4e'],
    ['an ARN without the id', 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-prod-webcanar-0a1b2c3d4e'],
    ['another service', 'arn:aws:ec2:us-east-1:123456789012:targetgroup/tg/0123456789abcdef'],
    ['an empty string', ''],
  ])('refuse %s as a target group ARN, naming it', (_what, arn) => {
    // Act
    let error: unknown;
    try {
      targetGroupDimension(arn);
    } catch (caught) {
      error = caught;
    }

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect((error as Error).message).toBe(
      `Not a target group ARN: ${JSON.stringify(arn)} (expected arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)`,
    );
  });

  it('refuse a malformed load balancer ARN, naming it', () => {
    const arn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef';
    expect(() => loadBalancerDimension(arn)).toThrow(
      new MetricProviderError(`Not a load balancer ARN: "${arn}" (expected arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>)`),
    );
  });

  it('refuse a Network Load Balancer, which has no AWS/ApplicationELB metrics', () => {
    const arn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/web/fedcba9876543210';
    expect(() => loadBalancerDimension(arn)).toThrow(new MetricProviderError(`${arn} is not an Application Load Balancer: AWS/ApplicationELB has no metrics for it`));
  });
});

describe('AlbTargetGroups: finding the binding (Kubernetes API emulator)', () => {
  let emulator: KubeEmulator;
  let adapter: AlbTargetGroups;

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    adapter = new AlbTargetGroups(kubeConfigFor({ server: emulator.url, token: 't' }), { createClient: noElb });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('says when the stack has no binding for the canary Service and port, naming the labels, what the stack has and the other stacks\' bindings', async () => {
    // Prepare: the stack binds only the stable Service; the canary is bound in two other stacks
    emulator.seed([
      binding('k8s-prod-web-0a1b2c3d4e', 'web', 80, SOME_TG_ARN),
      binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, SOME_TG_ARN, SHOP_GROUP),
      binding('k8s-prod-webcanar-6a7b8c9d0e', 'web-canary', 80, SOME_TG_ARN, { 'ingress.k8s.aws/stack': 'other' }),
    ]);

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      "No TargetGroupBinding for Service prod/web-canary port 80 in the Ingress's stack (labels ingress.k8s.aws/stack-namespace=prod,ingress.k8s.aws/stack-name=web): " +
        'the AWS Load Balancer Controller makes one once the Ingress forwards to the Service, so either the canary has no target group yet or the controller is not running ' +
        "(the stack's bindings: k8s-prod-web-0a1b2c3d4e (Service web port 80); in other stacks: k8s-prod-webcanar-5f6a7b8c9d, k8s-prod-webcanar-6a7b8c9d0e)",
    );
  });

  it('lists the bindings with the stack labels as the selector, then the namespace\'s when the stack has none for the Service', async () => {
    // Act
    await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    const lists = emulator.requests.filter((r) => r.method === 'GET' && r.path === '/apis/elbv2.k8s.aws/v1beta1/namespaces/prod/targetgroupbindings');
    expect(lists.map((list) => new URLSearchParams(list.query).get('labelSelector'))).toEqual([
      'ingress.k8s.aws/stack-namespace=prod,ingress.k8s.aws/stack-name=web',
      null,
    ]);
  });

  it('takes the Service\'s only binding in the namespace when the stack has none: a group set by IngressClassParams', async () => {
    // Prepare: the Ingress names no group, its IngressClassParams does, so the binding carries that group's label
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/nowhere/0123456789abcdef', SHOP_GROUP)]);

    // Act: the binding is found; the lookup goes on to its target group (this client reaches no ELB)
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error.message).not.toMatch(/No TargetGroupBinding/);
    expect(error.message).toMatch(/TargetGroupBinding prod\/k8s-prod-webcanar-5f6a7b8c9d/);
  });

  it('does not take a binding of the canary Service on another port', async () => {
    // Prepare
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 8080, SOME_TG_ARN)]);

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error.message).toMatch(/^No TargetGroupBinding for Service prod\/web-canary port 80 .*\(the stack's bindings: k8s-prod-webcanar-5f6a7b8c9d \(Service web-canary port 8080\)\)$/);
  });

  it('does not take a port name for a port number', async () => {
    // Prepare
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 'http', SOME_TG_ARN)]);

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error.message).toMatch(/^No TargetGroupBinding for Service prod\/web-canary port 80 in the Ingress's stack/);
  });

  it('refuses two bindings for the canary Service and port, naming them', async () => {
    // Prepare
    emulator.seed([
      binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, SOME_TG_ARN),
      binding('k8s-prod-webcanar-9e8d7c6b5a', 'web-canary', '80', SOME_TG_ARN),
    ]);

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      "2 TargetGroupBindings for Service prod/web-canary port 80 in the Ingress's stack (labels ingress.k8s.aws/stack-namespace=prod,ingress.k8s.aws/stack-name=web), expected one: " +
        'k8s-prod-webcanar-5f6a7b8c9d, k8s-prod-webcanar-9e8d7c6b5a',
    );
  });

  it('refuses a binding without spec.targetGroupARN, naming it', async () => {
    // Prepare
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, undefined)]);

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe('TargetGroupBinding prod/k8s-prod-webcanar-5f6a7b8c9d has no spec.targetGroupARN');
  });

  it('refuses a binding whose targetGroupARN is malformed, naming the binding and the value', async () => {
    // Prepare
    emulator.seed([binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, 'k8s-prod-webcanar-5f6a7b8c9d')]);

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      'TargetGroupBinding prod/k8s-prod-webcanar-5f6a7b8c9d: spec.targetGroupARN: Not a target group ARN: "k8s-prod-webcanar-5f6a7b8c9d" ' +
        '(expected arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)',
    );
  });

  it('refuses empty stack labels, which would select every binding in the namespace', async () => {
    const error = await rejection(adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: {} }));

    expect(error).toBeInstanceOf(RangeError);
    expect(emulator.requests).toHaveLength(0);
  });

  it('reports a 500 from the API server as transient', async () => {
    // Prepare
    emulator.faults.add({ method: 'GET', pathIncludes: 'targetgroupbindings', status: 500 });

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(KubernetesTransientError);
    expect(error.message).toMatch(/^list TargetGroupBindings in prod failed: 500/);
  });

  it('says the AWS Load Balancer Controller may be missing when TargetGroupBindings are not served', async () => {
    // Prepare
    emulator.faults.add({ method: 'GET', pathIncludes: 'targetgroupbindings', status: 404 });

    // Act
    const error = await rejection(adapter.dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect(error.message).toMatch(
      /^TargetGroupBindings \(elbv2\.k8s\.aws\/v1beta1\) are not served by the cluster: is the AWS Load Balancer Controller installed\? \(list TargetGroupBindings in prod: 404/,
    );
  });

  it('refuses a timeout that is not a positive number', () => {
    expect(() => new AlbTargetGroups(kubeConfigFor({ server: emulator.url }), { timeoutMs: 0 })).toThrow(
      'Elastic Load Balancing timeout: expected a positive number of milliseconds, got 0',
    );
  });
});

describe('AlbTargetGroups against Elastic Load Balancing that fails (stub)', () => {
  /** 'silent': accepts and never answers; 'denied': answers DescribeTargetGroups with an AccessDenied error. */
  let mode: 'silent' | 'denied' = 'silent';
  const server = createServer((request, response) => {
    if (mode === 'silent') return;
    request.resume();
    response
      .writeHead(403, { 'content-type': 'text/xml' })
      .end(
        '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>AccessDenied</Code>' +
          '<Message>User: arn:aws:sts::123456789012:assumed-role/fledge/analyze is not authorized to perform: elasticloadbalancing:DescribeTargetGroups</Message>' +
          '</Error><RequestId>0c6c2d1b-1111-2222-3333-444455556666</RequestId></ErrorResponse>',
      );
  });
  let endpoint: string;
  let emulator: KubeEmulator;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    emulator.seed([binding('k8s-prod-webcanar-0a1b2c3d4e', 'web-canary', 80, SOME_TG_ARN)]);
  });

  afterEach(async () => {
    await emulator.close();
  });

  const adapterAt = (timeoutMs: number) =>
    new AlbTargetGroups(kubeConfigFor({ server: emulator.url, token: 't' }), { clientConfig: { endpoint, credentials: MOTO_CREDENTIALS }, timeoutMs });

  it('gives up on a DescribeTargetGroups that gets no answer within the timeout', async () => {
    // Prepare
    mode = 'silent';

    // Act
    const started = Date.now();
    const error = await rejection(adapterAt(300).dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`DescribeTargetGroups for ${SOME_TG_ARN} (TargetGroupBinding prod/k8s-prod-webcanar-0a1b2c3d4e) did not answer within 300 ms`);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("names the call and the SDK error's name and message for any other failure", async () => {
    // Prepare
    mode = 'denied';

    // Act
    const error = await rejection(adapterAt(5000).dimensionsOf(CANARY_QUERY));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      `DescribeTargetGroups for ${SOME_TG_ARN} (TargetGroupBinding prod/k8s-prod-webcanar-0a1b2c3d4e) failed: AccessDenied: ` +
        'User: arn:aws:sts::123456789012:assumed-role/fledge/analyze is not authorized to perform: elasticloadbalancing:DescribeTargetGroups',
    );
  });
});

/** The part of an ARN the dimensions are: after the account for a target group, after `loadbalancer/` for a load balancer. */
const tgDimension = (arn: string) => arn.split(':').slice(5).join(':');
const lbDimension = (arn: string) => arn.split(':loadbalancer/')[1];

describe.skipIf(requireMotoServer().skip)('AlbTargetGroups against the emulator and moto_server', () => {
  let moto: MotoServer;
  let elb: MotoElb;
  /** ARNs moto gave the world's load balancers and target groups. */
  const arns = { prodAlb: '', shopAlb: '', stable: '', canary: '', shopCanary: '', detached: '', shared: '' };

  let emulator: KubeEmulator;
  /** Regions clients were made for, and the target groups DescribeTargetGroups was asked about. */
  let regions: (string | undefined)[];
  let described: string[];
  let adapter: AlbTargetGroups;

  const loadBalancer = (name: string) => elb.loadBalancer(name);
  const targetGroup = (name: string) => elb.targetGroup(name);
  const forward = (arn: string, port: number, weights: [string, number][]) => elb.forward(arn, port, weights);

  beforeAll(async () => {
    moto = await startMotoServer();
    elb = await motoElb(moto.url, REGION);
    arns.prodAlb = await loadBalancer('k8s-prod-web-1a2b3c4d5e');
    arns.shopAlb = await loadBalancer('k8s-shop-2b3c4d5e6f');
    arns.stable = await targetGroup('k8s-prod-web-0a1b2c3d4e');
    arns.canary = await targetGroup('k8s-prod-webcanar-5f6a7b8c9d');
    arns.shopCanary = await targetGroup('k8s-prod-webcanar-9e8d7c6b5a');
    arns.detached = await targetGroup('k8s-prod-webcanar-4d3c2b1a0f');
    arns.shared = await targetGroup('k8s-prod-webcanar-6e7f8a9b0c');
    // The Ingress's listener, as the controller makes it mid-rollout: both target groups, weighted.
    await forward(arns.prodAlb, 80, [
      [arns.stable, 90],
      [arns.canary, 10],
    ]);
    await forward(arns.shopAlb, 80, [[arns.shopCanary, 100]]);
    // A target group two load balancers forward to.
    await forward(arns.prodAlb, 8081, [[arns.shared, 100]]);
    await forward(arns.shopAlb, 8081, [[arns.shared, 100]]);
  });

  afterAll(async () => {
    await moto?.stop();
  });

  beforeEach(async () => {
    emulator = await startKubeEmulator();
    regions = [];
    described = [];
    adapter = new AlbTargetGroups(kubeConfigFor({ server: emulator.url, token: 't' }), {
      region: DEFAULT_REGION,
      createClient: (region) => {
        regions.push(region);
        const client = new ElasticLoadBalancingV2Client({ endpoint: moto.url, region, credentials: MOTO_CREDENTIALS });
        client.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName === 'DescribeTargetGroupsCommand') described.push(...((args.input as { TargetGroupArns: string[] }).TargetGroupArns ?? []));
            return next(args);
          },
          { step: 'initialize', name: 'recordDescribeTargetGroups' },
        );
        return client;
      },
    });
    // The stack's bindings: stable and canary; the canary Service is also bound in another stack.
    emulator.seed([
      binding('k8s-prod-web-0a1b2c3d4e', 'web', 80, arns.stable),
      binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, arns.canary),
      binding('k8s-prod-webcanar-9e8d7c6b5a', 'web-canary', 80, arns.shopCanary, SHOP_GROUP),
    ]);
  });

  afterEach(async () => {
    await emulator.close();
  });

  it("returns the canary target group's dimensions and its load balancer's, looked up in the ARN's region", async () => {
    // Act
    const dimensions = await adapter.dimensionsOf(CANARY_QUERY);

    // Assess
    expect(dimensions).toEqual({ targetGroup: tgDimension(arns.canary), loadBalancer: lbDimension(arns.prodAlb) });
    expect(dimensions.targetGroup).toMatch(/^targetgroup\/k8s-prod-webcanar-5f6a7b8c9d\/[0-9a-f]{16}$/);
    expect(dimensions.loadBalancer).toMatch(/^app\/k8s-prod-web-1a2b3c4d5e\/[0-9a-f]{16}$/);
    expect(regions).toEqual([REGION]);
    expect(described).toEqual([arns.canary]);
  });

  it('makes its own client from clientConfig, in the region of the ARN', async () => {
    // Prepare: the default region has no such target group
    const plain = new AlbTargetGroups(kubeConfigFor({ server: emulator.url, token: 't' }), {
      clientConfig: { endpoint: moto.url, credentials: MOTO_CREDENTIALS },
      region: DEFAULT_REGION,
    });

    // Act
    const dimensions = await plain.dimensionsOf(CANARY_QUERY);

    // Assess
    expect(dimensions).toEqual({ targetGroup: tgDimension(arns.canary), loadBalancer: lbDimension(arns.prodAlb) });
  });

  it('finds the binding of an explicit IngressGroup by its stack label', async () => {
    // Act
    const dimensions = await adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: SHOP_GROUP });

    // Assess
    expect(dimensions).toEqual({ targetGroup: tgDimension(arns.shopCanary), loadBalancer: lbDimension(arns.shopAlb) });
  });

  it('finds a binding by port name', async () => {
    // Prepare: a third stack whose Ingress names the Service port
    const stack = { 'ingress.k8s.aws/stack-namespace': 'prod', 'ingress.k8s.aws/stack-name': 'web-named' };
    emulator.seed([binding('k8s-prod-webcanar-1c2d3e4f5a', 'web-canary', 'http', arns.canary, stack)]);

    // Act
    const dimensions = await adapter.dimensionsOf({ ...CANARY_QUERY, port: 'http', stackLabels: stack });

    // Assess
    expect(dimensions.targetGroup).toBe(tgDimension(arns.canary));
  });

  it('matches a port number written as a string', async () => {
    // Prepare
    const stack = { 'ingress.k8s.aws/stack-namespace': 'prod', 'ingress.k8s.aws/stack-name': 'web-string' };
    emulator.seed([binding('k8s-prod-webcanar-2d3e4f5a6b', 'web-canary', '80', arns.canary, stack)]);

    // Act
    const dimensions = await adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: stack });

    // Assess
    expect(dimensions.targetGroup).toBe(tgDimension(arns.canary));
  });

  it('passes over a binding that is being deleted', async () => {
    // Prepare: the emulator drops deletionTimestamp on create, so the list answer is scripted
    const terminating = binding('k8s-prod-webcanar-4d3c2b1a0f', 'web-canary', 80, arns.detached);
    const live = binding('k8s-prod-webcanar-5f6a7b8c9d', 'web-canary', 80, arns.canary);
    emulator.faults.add({
      method: 'GET',
      pathIncludes: 'targetgroupbindings',
      status: 200,
      body: {
        apiVersion: TGB,
        kind: 'TargetGroupBindingList',
        metadata: { resourceVersion: '1' },
        items: [{ ...terminating, metadata: { ...terminating.metadata, deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['elbv2.k8s.aws/resources'] } }, live],
      },
    });

    // Act
    const dimensions = await adapter.dimensionsOf(CANARY_QUERY);

    // Assess
    expect(dimensions.targetGroup).toBe(tgDimension(arns.canary));
  });

  it('says when the target group is not attached to a load balancer yet', async () => {
    // Prepare
    const stack = { 'ingress.k8s.aws/stack': 'detached' };
    emulator.seed([binding('k8s-prod-webcanar-4d3c2b1a0f', 'web-canary', 80, arns.detached, stack)]);

    // Act
    const error = await rejection(adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: stack }));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      `Target group ${arns.detached} (TargetGroupBinding prod/k8s-prod-webcanar-4d3c2b1a0f) is not attached to a load balancer yet: no listener rule forwards to it`,
    );
  });

  it('refuses a target group attached to several load balancers, naming them', async () => {
    // Prepare
    const stack = { 'ingress.k8s.aws/stack': 'shared' };
    emulator.seed([binding('k8s-prod-webcanar-6e7f8a9b0c', 'web-canary', 80, arns.shared, stack)]);

    // Act
    const error = await rejection(adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: stack }));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      `Target group ${arns.shared} (TargetGroupBinding prod/k8s-prod-webcanar-6e7f8a9b0c) is attached to 2 load balancers, expected one: ${arns.prodAlb}, ${arns.shopAlb}`,
    );
  });

  it('says when the target group of the binding does not exist, naming its ARN', async () => {
    // Prepare: a well-formed ARN moto never issued
    const stack = { 'ingress.k8s.aws/stack': 'gone' };
    const gone = arns.canary.replace(/\/[0-9a-f]{16}$/, '/00000000deadbeef');
    emulator.seed([binding('k8s-prod-webcanar-7a8b9c0d1e', 'web-canary', 80, gone, stack)]);

    // Act
    const error = await rejection(adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: stack }));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(
      `Target group ${gone} (TargetGroupBinding prod/k8s-prod-webcanar-7a8b9c0d1e) not found: it was deleted, or it is in another account or region than Fledge looked in`,
    );
  });

  it("keeps a target group's load balancer but lists the bindings on every call", async () => {
    // Act
    const first = await adapter.dimensionsOf(CANARY_QUERY);
    const second = await adapter.dimensionsOf(CANARY_QUERY);

    // Assess
    expect(second).toEqual(first);
    expect(described).toEqual([arns.canary]);
    expect(emulator.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/targetgroupbindings'))).toHaveLength(2);
  });

  it('asks about a target group once for concurrent callers', async () => {
    // Act
    const answers = await Promise.all([adapter.dimensionsOf(CANARY_QUERY), adapter.dimensionsOf(CANARY_QUERY)]);

    // Assess
    expect(answers[1]).toEqual(answers[0]);
    expect(described).toEqual([arns.canary]);
  });

  it('asks the default region about a target group ARN that names none', async () => {
    // Prepare: the canary's ARN with its region field emptied
    const stack = { 'ingress.k8s.aws/stack': 'regionless' };
    const regionless = arns.canary.replace(`:${REGION}:`, '::');
    emulator.seed([binding('k8s-prod-webcanar-0f1e2d3c4b', 'web-canary', 80, regionless, stack)]);

    // Act: moto keeps target groups by their full ARN, so it finds none
    const error = await rejection(adapter.dimensionsOf({ ...CANARY_QUERY, stackLabels: stack }));

    // Assess
    expect(regions).toEqual([DEFAULT_REGION]);
    expect(described).toEqual([regionless]);
    expect(error.message).toMatch(/^Target group arn:aws:elasticloadbalancing::123456789012:targetgroup\/k8s-prod-webcanar-5f6a7b8c9d\/[0-9a-f]{16} \(TargetGroupBinding prod\/k8s-prod-webcanar-0f1e2d3c4b\) not found/);
  });

  it('follows a binding that now points at another target group', async () => {
    // Prepare: a first answer, then the controller rebinds the canary Service to the stack's other target group
    await adapter.dimensionsOf(CANARY_QUERY);
    const api = kubeConfigFor({ server: emulator.url, token: 't' }).makeApiClient(CustomObjectsApi);
    await api.deleteNamespacedCustomObject({ group: 'elbv2.k8s.aws', version: 'v1beta1', namespace: 'prod', plural: 'targetgroupbindings', name: 'k8s-prod-webcanar-5f6a7b8c9d' });
    emulator.seed([binding('k8s-prod-webcanar-8b9c0d1e2f', 'web-canary', 80, arns.stable)]);

    // Act
    const dimensions = await adapter.dimensionsOf(CANARY_QUERY);

    // Assess
    expect(dimensions).toEqual({ targetGroup: tgDimension(arns.stable), loadBalancer: lbDimension(arns.prodAlb) });
    expect(described).toEqual([arns.canary, arns.stable]);
  });

  it('does not keep a failure: a target group attached since is found', async () => {
    // Prepare: a target group no listener forwards to yet
    const later = await targetGroup('k8s-prod-webcanar-3e4f5a6b7c');
    const stack = { 'ingress.k8s.aws/stack': 'later' };
    emulator.seed([binding('k8s-prod-webcanar-3e4f5a6b7c', 'web-canary', 80, later, stack)]);
    const query = { ...CANARY_QUERY, stackLabels: stack };
    expect((await rejection(adapter.dimensionsOf(query))).message).toMatch(/is not attached to a load balancer yet/);
    await forward(arns.prodAlb, 8082, [[later, 100]]);

    // Act
    const dimensions = await adapter.dimensionsOf(query);

    // Assess
    expect(dimensions).toEqual({ targetGroup: tgDimension(later), loadBalancer: lbDimension(arns.prodAlb) });
    expect(described).toEqual([later, later]);
  });
});
