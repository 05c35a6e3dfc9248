// RolloutOrchestrator's props and manifests: what synth refuses, with which message, and what each option changes.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterAll, describe, expect, it } from 'vitest';
import { RolloutOrchestrator } from '../../infra/rollout-orchestrator';
import type { RolloutOrchestratorProps } from '../../infra/rollout-orchestrator';
import { synthesize } from './synth';

const METRICS_SERVER = 'prometheus:http://prometheus.monitoring:9090';

/** A Canary whose metrics run on CloudWatch, Amazon Managed Prometheus and a Prometheus behind a secret. */
const AWS_METRICS = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: { name: cart, namespace: prod }
spec:
  targetRef: { apiVersion: apps/v1, kind: Deployment, name: cart }
  service: { port: 80 }
  analysis:
    interval: 3m # a 1m CloudWatch window, 60 s of lag and a minute of rounding fit in the bake
    stepWeight: 20
    maxWeight: 60
    metrics:
      - { name: errors, templateRef: { name: cw-errors }, interval: 1m, thresholdRange: { max: 1 } }
      - { name: latency, templateRef: { name: amp-latency }, thresholdRange: { max: 300 } }
      - { name: saturation, templateRef: { name: private-saturation }, thresholdRange: { max: 80 } }
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: { name: cw-errors, namespace: prod }
spec:
  provider: { type: cloudwatch, region: eu-west-1 }
  query: |
    [{"Id": "e1", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Errors", "Dimensions": [{"Name": "app", "Value": "{{ target }}"}]}, "Period": 60, "Stat": "Sum"}}]
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: { name: amp-latency, namespace: prod }
spec:
  provider: { type: prometheus, address: "https://aps-workspaces.eu-central-1.amazonaws.com/workspaces/ws-12345678" }
  query: histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{pod=~"{{ target }}-.*"}[1m])) by (le)) * 1000
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: { name: private-saturation, namespace: prod }
spec:
  provider: { type: prometheus, address: "https://prometheus.internal.example.com", secretRef: { name: fledge/prometheus } }
  query: max(saturation{pod=~"{{ target }}-.*"})
`;
/** A Canary on the ALB router whose metrics are the builtins: CloudWatch on the canary's target group. */
const ALB_CANARY = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: { name: shop, namespace: prod }
spec:
  provider: alb
  targetRef: { apiVersion: apps/v1, kind: Deployment, name: shop }
  service: { port: 80 }
  analysis:
    interval: 3m
    stepWeight: 25
    maxWeight: 50
    metrics:
      - { name: request-success-rate, interval: 1m, thresholdRange: { min: 99 } }
      - { name: request-duration, interval: 1m, thresholdRange: { max: 500 } }
`;

/** Each function's IAM statements but its logs and eks:DescribeCluster, by task name. */
function statementsByFunction(resources: Record<string, any>): Record<string, any[]> {
  return Object.fromEntries(
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((fn) => {
        const roleId = fn.Properties.Role['Fn::GetAtt'][0];
        const statements = Object.values(resources)
          .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
          .flatMap((p) => p.Properties.PolicyDocument.Statement)
          .filter((st) => !/^(logs|eks):/.test([st.Action].flat()[0]));
        return [/^Fledge \w+/.exec(fn.Properties.Description)![0].slice(7), statements];
      }),
  );
}

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

/** A copy of examples/ with `edit` applied to the named files (or extra files added). */
function manifests(edits: Record<string, (text: string) => string> = {}, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'fledge-manifests-'));
  folders.push(dir);
  cpSync('examples', dir, { recursive: true });
  for (const [file, edit] of Object.entries(edits)) writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), 'utf8')));
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(dir, file), text);
  return dir;
}

const construct = (props: Partial<RolloutOrchestratorProps>) => (): void => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new RolloutOrchestrator(new Stack(app, 'Fledge'), 'Orchestrator', {
    clusterName: 'prod-cluster',
    manifestsDir: 'examples',
    metricsServer: METRICS_SERVER,
    ...props,
  } as RolloutOrchestratorProps);
};

/** One stack, synthesized without bundling, with cdk-nag. */
function synth(props: (stack: Stack) => Partial<RolloutOrchestratorProps>) {
  let orchestrator!: RolloutOrchestrator;
  const result = synthesize((app) => {
    const stack = new Stack(app, 'Fledge');
    orchestrator = new RolloutOrchestrator(stack, 'Orchestrator', { manifestsDir: 'examples', metricsServer: METRICS_SERVER, ...props(stack) } as RolloutOrchestratorProps);
    return stack;
  });
  folders.push(result.outdir);
  return { ...result, orchestrator, resources: result.template.toJSON().Resources as Record<string, Record<string, any>> };
}

describe('a bad manifest fails synth naming the file, the path and the value', () => {
  it('rejects an invalid field', () => {
    const dir = manifests({ 'web-canary.yaml': (text) => text.replace('stepWeight: 10', 'stepWeight: -5') });

    expect(construct({ manifestsDir: dir })).toThrow(
      `RolloutOrchestrator: manifestsDir ${dir}: web-canary.yaml: spec.analysis.stepWeight: expected a number between 1 and 100, got -5`,
    );
  });

  it('rejects a metric whose template is not in the folder', () => {
    const dir = manifests({ 'web-canary.yaml': (text) => text.replace('name: error-rate\n        templateRef:\n          name: error-rate', 'name: error-rate\n        templateRef:\n          name: error-ratio') });

    expect(construct({ manifestsDir: dir })).toThrow(
      /web-canary\.yaml: Canary prod\/web: spec\.analysis\.metrics\[0\]\.templateRef: MetricTemplate prod\/error-ratio not found/,
    );
  });

  it('rejects a builtin metric when no metrics server is set', () => {
    expect(construct({ metricsServer: undefined })).toThrow(
      /web-canary\.yaml: Canary prod\/web: spec\.analysis\.metrics\[1\]: metric "request-duration" runs on the metrics server, but none is set/,
    );
  });

  it('rejects a Canary for another cluster, and two Canaries claiming the same pushes', () => {
    const otherCluster = manifests({ 'web-canary.yaml': (text) => `${text}  fledge:\n    cluster: staging-cluster\n` });
    const twice = manifests({}, { 'web-again.yaml': readFileSync('examples/web-canary.yaml', 'utf8').replace('name: web\n  namespace: prod', 'name: web-again\n  namespace: prod') });

    expect(construct({ manifestsDir: otherCluster })).toThrow(
      'web-canary.yaml: spec.fledge.cluster: this deployment serves EKS cluster "prod-cluster", got "staging-cluster"',
    );
    expect(construct({ manifestsDir: twice })).toThrow(/web-canary\.yaml: spec\.fledge: Canary prod\/web claims the same pushes as Canary prod\/web-again in web-again\.yaml/);
  });

  it('rejects a folder that does not exist or holds no Canary', () => {
    const empty = mkdtempSync(join(tmpdir(), 'fledge-empty-'));
    folders.push(empty);

    expect(construct({ manifestsDir: 'no-such-folder' })).toThrow(`manifestsDir ${resolve('no-such-folder')}: expected a folder of Canary YAML files`);
    expect(construct({ manifestsDir: empty })).toThrow(`manifestsDir ${empty}: no Canary in 0 YAML file(s) (none)`);
  });

  it('stops `cdk synth` with the message and exit code 1', async () => {
    const dir = manifests({ 'web-canary.yaml': (text) => text.replace('stepWeight: 10', 'stepWeight: -5') });
    const out = mkdtempSync(join(tmpdir(), 'fledge-cdk-out-'));
    folders.push(out);

    const run = await promisify(execFile)(
      resolve('node_modules/.bin/cdk'),
      ['synth', '--quiet', '-o', out, '-c', `fledge:manifestsDir=${dir}`, '-c', `fledge:metricsServer=${METRICS_SERVER}`],
      { env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: '1' } },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`web-canary.yaml: spec.analysis.stepWeight: expected a number between 1 and 100, got -5`);
  }, 60_000);
});

describe('props are checked in the constructor, and the message shows the value', () => {
  it.each([
    [{ clusterName: undefined }, 'RolloutOrchestrator: give clusterName or cluster; got neither'],
    [{ clusterName: 'prod cluster' }, 'clusterName: expected an EKS cluster name (letters, digits, - and _, at most 100), got "prod cluster"'],
    [{ clusterArn: 'arn:aws:eks:eu-west-1:123456789012:cluster/other' }, 'clusterArn: names cluster "other", but clusterName is "prod-cluster"'],
    [{ clusterArn: 'prod-cluster' }, 'clusterArn: expected arn:<partition>:eks:<region>:<account>:cluster/<name>, got "prod-cluster"'],
    [{ metricsServer: 'graphite:http://g' }, 'metricsServer: expected "prometheus:<url>" or "web:<url>", got "graphite:http://g"'],
    [{ vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } }, 'vpcSubnets: needs vpc, which is not set'],
    [{ logRetention: 45 as logs.RetentionDays }, 'logRetention: expected a logs.RetentionDays value, got 45'],
    [{ kubernetesGroup: 'system:masters' }, 'kubernetesGroup: expected a Kubernetes group name not starting with "system:", got "system:masters"'],
    [{ manifestsDir: '' }, 'manifestsDir: expected a folder of Canary YAML files, got ""'],
  ])('refuses %j', (props, message) => {
    expect(construct(props as Partial<RolloutOrchestratorProps>)).toThrow(message);
  });

  it('refuses both a cluster and a cluster name', () => {
    const app = new App();
    const stack = new Stack(app, 'Fledge');
    const cluster = eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'prod-cluster' });

    expect(() => new RolloutOrchestrator(stack, 'Orchestrator', { cluster, clusterName: 'prod-cluster', manifestsDir: 'examples', metricsServer: METRICS_SERVER })).toThrow(
      'give clusterName or cluster, not both; got clusterName "prod-cluster" and a cluster',
    );
  });
});

describe('options', () => {
  it("scopes the access entries to every Canary's namespace and the rule to every repository", () => {
    const staging = readFileSync('examples/web-canary.yaml', 'utf8')
      .replace('namespace: prod', 'namespace: staging')
      .replace('name: web\n  namespace', 'name: checkout\n  namespace')
      .replace('kind: Deployment\n    name: web', 'kind: Deployment\n    name: checkout')
      .replace('templateRef:\n          name: error-rate', 'templateRef:\n          name: error-rate\n          namespace: prod');
    const { template, orchestrator, resources } = synth(() => ({ clusterName: 'prod-cluster', manifestsDir: manifests({}, { 'checkout-canary.yaml': staging }) }));

    const entries = Object.values(resources).filter((r) => r.Type === 'AWS::EKS::AccessEntry');
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry.Properties.AccessPolicies[0].AccessScope).toEqual({ Type: 'namespace', Namespaces: ['prod', 'staging'] });
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: { detail: { 'repository-name': ['checkout', 'team/api', 'web'] } } });
    expect(orchestrator.rbacManifest).toMatch(/kind: Role\nmetadata:\n {2}name: fledge-httproutes\n {2}namespace: staging/);
  });

  it('takes an imported cluster: its name for the access entries and the functions, its ARN for eks:DescribeCluster', () => {
    const { resources } = synth((stack) => ({
      cluster: eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'imported' }),
    }));

    const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const fn of fns) expect(fn.Properties.Environment.Variables.FLEDGE_EKS_CLUSTER).toBe('imported');
    for (const entry of Object.values(resources).filter((r) => r.Type === 'AWS::EKS::AccessEntry')) expect(entry.Properties.ClusterName).toBe('imported');
    const describe = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => s.Action === 'eks:DescribeCluster');
    expect(describe).toHaveLength(fns.length);
    for (const statement of describe) expect(JSON.stringify(statement.Resource)).toContain(':cluster/imported');
  });

  it('scopes eks:DescribeCluster to clusterArn when given', () => {
    const arn = 'arn:aws:eks:eu-west-1:123456789012:cluster/prod-cluster';
    const { resources } = synth(() => ({ clusterName: 'prod-cluster', clusterArn: arn }));

    const describe = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => s.Action === 'eks:DescribeCluster');
    expect(describe.map((s) => s.Resource)).toEqual(describe.map(() => arn));
  });

  it('runs the functions in a VPC for a private endpoint, still passing cdk-nag', () => {
    const { resources } = synth((stack) => {
      const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['eu-west-1a'], privateSubnetIds: ['subnet-0123456789abcdef0'] });
      return { clusterName: 'prod-cluster', vpc, securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0')] };
    });

    const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const fn of fns) expect(fn.Properties.VpcConfig).toEqual({ SubnetIds: ['subnet-0123456789abcdef0'], SecurityGroupIds: ['sg-0123456789abcdef0'] });
    const roles = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role' && r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === 'lambda.amazonaws.com');
    for (const role of roles) expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('service-role/AWSLambdaVPCAccessExecutionRole');
  });

  it('publishes to a topic it is given, and creates none', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:oncall';
    const { template, resources } = synth((stack) => ({ clusterName: 'prod-cluster', notificationTopic: sns.Topic.fromTopicArn(stack, 'Topic', topicArn) }));

    template.resourceCountIs('AWS::SNS::Topic', 0);
    const notify = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment.Variables.FLEDGE_NOTIFY_TOPIC_ARN);
    expect(notify.map((fn) => fn.Properties.Environment.Variables.FLEDGE_NOTIFY_TOPIC_ARN)).toEqual([topicArn]);
    const publish = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => s.Action === 'sns:Publish');
    expect(publish).toEqual([{ Effect: 'Allow', Action: 'sns:Publish', Resource: topicArn }]);
  });

  it('lets the functions that query metrics read what the Canaries\' providers need: CloudWatch, an AMP workspace, a secret', () => {
    const dir = manifests({}, { 'aws-metrics.yaml': AWS_METRICS });
    const { resources } = synth(() => ({ clusterName: 'prod-cluster', manifestsDir: dir }));

    const byFunction = statementsByFunction(resources);
    const account = { Ref: 'AWS::AccountId' };
    const partition = { Ref: 'AWS::Partition' };
    const expected = [
      { Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' },
      { Effect: 'Allow', Action: 'aps:QueryMetrics', Resource: { 'Fn::Join': ['', ['arn:', partition, ':aps:eu-central-1:', account, ':workspace/ws-12345678']] } },
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: { 'Fn::Join': ['', ['arn:', partition, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', account, ':secret:fledge/prometheus-??????']] },
      },
    ];
    expect(byFunction.Initialize).toEqual(expected);
    expect(byFunction.AnalyzeMetrics).toEqual(expected);
    for (const task of ['CreateCanary', 'ShiftWeight', 'Promote', 'Rollback']) expect({ task, statements: byFunction[task] }).toEqual({ task, statements: [] });
  });

  it('lets AnalyzeMetrics find the canary target group\'s load balancer when a Canary is on the alb router, and no other function', () => {
    const dir = manifests({}, { 'alb.yaml': ALB_CANARY });
    const { resources } = synth(() => ({ clusterName: 'prod-cluster', manifestsDir: dir }));

    const byFunction = statementsByFunction(resources);
    expect(byFunction.AnalyzeMetrics).toEqual([
      { Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' },
      { Effect: 'Allow', Action: 'elasticloadbalancing:DescribeTargetGroups', Resource: '*' },
    ]);
    expect(byFunction.Initialize).toEqual([{ Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' }]);
    for (const task of ['CreateCanary', 'ShiftWeight', 'Promote', 'Rollback']) expect({ task, statements: byFunction[task] }).toEqual({ task, statements: [] });
  });

  it('gives no function DescribeTargetGroups when no Canary is on the alb router', () => {
    const { resources } = synth(() => ({ clusterName: 'prod-cluster' }));

    const actions = Object.values(statementsByFunction(resources)).flat().map((statement) => statement.Action);
    expect(actions).not.toContain('elasticloadbalancing:DescribeTargetGroups');
  });

  it('keeps logs for logRetention', () => {
    const { resources } = synth(() => ({ clusterName: 'prod-cluster', logRetention: logs.RetentionDays.ONE_YEAR }));

    const groups = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups.map((group) => group.Properties.RetentionInDays)).toEqual(groups.map(() => 365));
  });
});
