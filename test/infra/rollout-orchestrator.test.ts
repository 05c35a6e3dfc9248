// The deployed shape of Fledge: the stack `cdk deploy` creates from examples/, bundled once and read many ways.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Validations } from 'aws-cdk-lib';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importInChild } from '../../bench/cold-import';
import { kebabCase, placeholdersIn } from '../../infra/asl-tasks';
import { FledgeStack } from '../../infra/fledge-stack';
import { configFromEnv } from '../../lambdas/handlers/config';
import { checkManifestFolder } from '../../infra/manifests';
import { BUNDLED_MANIFESTS_DIR, CREATE_REQUIRE_BANNER, DEFINITION_FILE } from '../../infra/rollout-orchestrator';
import { requireTool } from '../helpers/require-tool';
import { reportedViolations, synthesize } from './synth';
import type { Synthesized } from './synth';

const CLUSTER = 'prod-cluster';
const METRICS_SERVER = 'prometheus:http://prometheus.monitoring:9090';
const DEFINITION_TEXT = readFileSync(DEFINITION_FILE, 'utf8');
const PLACEHOLDERS = placeholdersIn(DEFINITION_TEXT);
/** `NotifyRollbackFailedFunctionArn` → `NotifyRollbackFailed`. */
const TASKS = PLACEHOLDERS.map((placeholder) => placeholder.replace(/FunctionArn$/, ''));
const EXAMPLE_FILES = readdirSync('examples').filter((file) => /\.ya?ml$/.test(file)).sort();

type Json = Record<string, any>;
let synth: Synthesized;
let stack: FledgeStack;
let resources: Record<string, Json>;

/** The CloudFormation logical ID of one of the construct's children. */
const logicalId = (path: string): string => {
  const child = stack.orchestrator.node.findChild(path);
  return stack.getLogicalId((child.node.defaultChild ?? child) as never);
};
const ofType = (type: string): [string, Json][] => Object.entries(resources).filter(([, r]) => r.Type === type);
/** Every statement of every AWS::IAM::Policy attached to the role. */
const statementsOf = (roleId: string): Json[] =>
  ofType('AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((role: Json) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

beforeAll(() => {
  synth = synthesize(
    (app) => (stack = new FledgeStack(app, 'Fledge', { orchestrator: { clusterName: CLUSTER, manifestsDir: 'examples', metricsServer: METRICS_SERVER } })),
    { bundle: true },
  );
  resources = synth.template.toJSON().Resources;
}, 180_000);

afterAll(() => synth?.dispose());

describe('RolloutOrchestrator on examples/', () => {
  it('creates one function per ${<Task>FunctionArn} in the definition, from lambdas/handlers/<kebab-case>.ts', () => {
    expect(TASKS).toContain('WaitForCanaryReady');
    expect(Object.keys(stack.orchestrator.functions).sort()).toEqual([...TASKS].sort());
    synth.template.resourceCountIs('AWS::Lambda::Function', TASKS.length);
    for (const task of TASKS) {
      expect(resources[logicalId(task)].Properties.Description).toBe(`Fledge ${task} (lambdas/handlers/${kebabCase(task)}.ts)`);
    }
  });

  it('starts the state machine on a successful ECR push to a repository a Canary claims, with the event as input', () => {
    const [[, rule], ...others] = ofType('AWS::Events::Rule');

    expect(others).toHaveLength(0);
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Action'],
      detail: {
        'action-type': ['PUSH'],
        result: ['SUCCESS'],
        // api-canary-fledge.yaml sets spec.fledge.imageRepository; web-canary.yaml defaults to its targetRef name.
        'repository-name': ['team/api', 'web'],
      },
    });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { Ref: logicalId('StateMachine') }, RoleArn: expect.anything() }),
    ]);
    expect(rule.Properties.Targets[0]).not.toHaveProperty('Input');
    expect(rule.Properties.Targets[0]).not.toHaveProperty('InputPath');
  });

  it('substitutes every placeholder of the definition with the ARN of its own function', () => {
    const [[, machine]] = ofType('AWS::StepFunctions::StateMachine');
    const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, Json>;

    expect(Object.keys(substitutions).sort()).toEqual([...PLACEHOLDERS].sort());
    for (const task of TASKS) {
      expect(substitutions[`${task}FunctionArn`]).toEqual({ 'Fn::GetAtt': [logicalId(task), 'Arn'] });
    }
    // The definition deployed is the file itself, and the substitutions leave no placeholder in it.
    const asset = join(synth.outdir, `asset.${machine.Properties.DefinitionS3Location.Key}`);
    expect(readFileSync(asset, 'utf8')).toBe(DEFINITION_TEXT);
    const substituted = DEFINITION_TEXT.replace(/\$\{([^}]*)\}/g, (_, name: string) => (substitutions[name] ? 'arn' : `\${${name}}`));
    expect(substituted).not.toContain('${');
  });

  it('lets the state machine invoke each function, unqualified, and nothing else in Lambda', () => {
    const roleId = resources[logicalId('StateMachine')].Properties.RoleArn['Fn::GetAtt'][0] as string;
    const invoke = statementsOf(roleId).filter((statement) => asList(statement.Action).some((action: string) => action.startsWith('lambda:')));

    const granted = invoke.flatMap((statement) => {
      expect(statement).toMatchObject({ Effect: 'Allow', Action: 'lambda:InvokeFunction' });
      return asList(statement.Resource);
    });
    const expected = TASKS.flatMap((task) => [
      { 'Fn::GetAtt': [logicalId(task), 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(task), 'Arn'] }, ':$LATEST']] },
    ]);
    expect(granted).toHaveLength(expected.length);
    expect(granted).toEqual(expect.arrayContaining(expected));
  });

  it('logs every state machine event to CloudWatch Logs without payloads, kept a month, and traces with X-Ray', () => {
    synth.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logicalId('StateMachineLogs'), 'Arn'] } } }],
      },
    });
    expect(resources[logicalId('StateMachineLogs')].Properties.RetentionInDays).toBe(30);
  });

  it('runs each function on Node.js 22, arm64, with its own log group and the environment the handlers read', () => {
    const topic = { Ref: logicalId('NotificationTopic') };
    for (const task of TASKS) {
      const fn = resources[logicalId(task)].Properties;
      expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', MemorySize: 512 });
      expect(fn.LoggingConfig).toEqual({ LogGroup: { Ref: logicalId(`${task}Logs`) } });
      expect(resources[logicalId(`${task}Logs`)].Properties.RetentionInDays).toBe(30);
      expect(fn.Environment.Variables).toEqual({
        FLEDGE_MANIFESTS_DIR: BUNDLED_MANIFESTS_DIR,
        FLEDGE_EKS_CLUSTER: CLUSTER,
        FLEDGE_METRICS_SERVER: METRICS_SERVER,
        ...(task.startsWith('Notify') ? { FLEDGE_NOTIFY_TOPIC_ARN: topic } : {}),
        NODE_OPTIONS: '--enable-source-maps',
      });
      expect(fn).not.toHaveProperty('VpcConfig');
    }
  });

  it('sets an environment the handlers\' configuration accepts, on EKS rather than a local API server', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:Fledge-OrchestratorNotificationTopic';
    for (const task of TASKS) {
      const variables = resources[logicalId(task)].Properties.Environment.Variables as Record<string, string | Json>;
      // CloudFormation puts the topic's ARN where the template has its Ref; Lambda sets AWS_REGION.
      const env = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : topicArn]));
      const config = configFromEnv({ ...env, AWS_REGION: 'eu-west-1' });

      expect(config).toMatchObject({ manifestsDir: BUNDLED_MANIFESTS_DIR, eksCluster: CLUSTER, metricsServer: { type: 'prometheus' } });
      expect(config.kubeServer).toBeUndefined();
      expect(config.notifyTopicArn).toBe(task.startsWith('Notify') ? topicArn : undefined);
    }
  });

  it("stops each function before its Task state's TimeoutSeconds, so a slow invocation is retried and never overlaps its retry", () => {
    const definition = JSON.parse(DEFINITION_TEXT) as { States: Record<string, Json> };
    const tasks = Object.values(definition.States).filter((state) => state.Type === 'Task' && typeof state.TimeoutSeconds === 'number');
    expect(tasks.length).toBeGreaterThan(0);
    for (const state of tasks) {
      const task = /^\$\{(\w+)FunctionArn\}$/.exec(state.Resource)![1];
      const timeout = resources[logicalId(task)].Properties.Timeout as number;
      expect(timeout).toBeLessThan(state.TimeoutSeconds);
      expect(timeout).toBeGreaterThanOrEqual(state.TimeoutSeconds - 10);
    }
  });

  it('gives each function only its log stream, eks:DescribeCluster on the cluster, and sns:Publish to the notifying one', () => {
    const clusterArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:cluster/${CLUSTER}`]] };
    for (const task of TASKS) {
      const roleId = logicalId(`${task}Role`);
      expect(resources[logicalId(task)].Properties.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      expect(resources[roleId].Properties).not.toHaveProperty('ManagedPolicyArns');
      expect(resources[roleId].Properties).not.toHaveProperty('Policies');
      const expected = [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logicalId(`${task}Logs`), 'Arn'] } },
        { Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: clusterArn },
        ...(task.startsWith('Notify') ? [{ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: logicalId('NotificationTopic') } }] : []),
      ];
      expect({ task, statements: statementsOf(roleId) }).toEqual({ task, statements: expected });
    }
  });

  it('uses Resource "*" only where AWS allows nothing narrower: X-Ray and log delivery, for the state machine', () => {
    const roleOfMachine = resources[logicalId('StateMachine')].Properties.RoleArn['Fn::GetAtt'][0];
    for (const [id, policy] of ofType('AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Json[]) {
        const actions = asList(statement.Action as string | string[]);
        expect({ id, actions: actions.filter((action) => action.includes('*')) }).toEqual({ id, actions: [] });
        if (!asList(statement.Resource).some((resource) => typeof resource === 'string' && resource.includes('*'))) continue;
        expect(policy.Properties.Roles).toEqual([{ Ref: roleOfMachine }]);
        expect(statement.Resource).toBe('*');
        expect(actions.every((action) => /^(xray|logs):/.test(action))).toBe(true);
        expect(actions).not.toContain('logs:PutLogEvents');
      }
    }
  });

  it("gives each function's role an EKS access entry: AmazonEKSEditPolicy in the Canaries' namespaces, in the RBAC manifest's group", () => {
    const entries = ofType('AWS::EKS::AccessEntry').map(([, entry]) => entry.Properties);
    expect(entries.map((entry) => entry.PrincipalArn).sort(byJson)).toEqual(
      TASKS.map((task) => ({ 'Fn::GetAtt': [logicalId(`${task}Role`), 'Arn'] })).sort(byJson),
    );
    for (const entry of entries) {
      expect(entry).toMatchObject({ ClusterName: CLUSTER, Type: 'STANDARD', KubernetesGroups: ['fledge-rollouts'] });
      expect(entry.AccessPolicies).toEqual([
        {
          PolicyArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks::aws:cluster-access-policy/AmazonEKSEditPolicy']] },
          AccessScope: { Type: 'namespace', Namespaces: ['prod'] },
        },
      ]);
    }

    const rbac = synth.template.toJSON().Outputs.KubernetesRbac.Value as string;
    const documents = parseAllDocuments(rbac).map((document) => document.toJS() as Json);
    expect(rbac).toBe(stack.orchestrator.rbacManifest);
    expect(documents.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'Role prod/fledge-httproutes',
      'RoleBinding prod/fledge-httproutes',
    ]);
    expect(documents[0].rules).toEqual([
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'update', 'patch'] },
      { apiGroups: ['networking.istio.io'], resources: ['virtualservices'], verbs: ['get', 'list', 'update', 'patch'] },
      { apiGroups: ['elbv2.k8s.aws'], resources: ['targetgroupbindings'], verbs: ['get', 'list'] },
    ]);
    expect(documents[1].roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'fledge-httproutes' });
    expect(documents[1].subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: entries[0].KubernetesGroups[0] }]);
  });

  it('creates an encrypted, TLS-only notification topic and outputs what an operator needs', () => {
    synth.template.resourceCountIs('AWS::SNS::Topic', 1);
    expect(resources[logicalId('NotificationTopic')].Properties.KmsMasterKeyId).toBeDefined();
    const outputs = synth.template.toJSON().Outputs as Record<string, Json>;
    expect(Object.keys(outputs).sort()).toEqual(['ExecutionsConsoleUrl', 'KubernetesRbac', 'NotificationTopicArn', 'StateMachineArn']);
    expect(outputs.StateMachineArn.Value).toEqual({ Ref: logicalId('StateMachine') });
  });

  it('passes cdk-nag AwsSolutions checks, acknowledging only the findings that are by design, each with a reason', () => {
    // synthesize() would have thrown on an unacknowledged error; warnings would be in the report.
    expect(reportedViolations(synth.outdir)).toEqual([]);
    const acknowledged = stack.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({ path: construct.node.path, id, reason }))),
    );
    for (const rule of acknowledged) expect(rule.reason.length).toBeGreaterThan(40);
    expect(acknowledged.map((rule) => `${rule.path} ${rule.id}`).sort()).toEqual(
      [
        ...TASKS.map((task) => `Fledge/Orchestrator/${task} AwsSolutions::AwsSolutions-L1`),
        'Fledge/Orchestrator/StateMachine/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      ].sort(),
    );
  });

  it('bundles each handler as an ES module with the createRequire banner, a source map and the manifests', async () => {
    const bundles = TASKS.map((task) => assetFolder(resources[logicalId(task)].Properties.Code.S3Key));
    for (const dir of bundles) {
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8').startsWith(`${CREATE_REQUIRE_BANNER}\n`)).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      expect(readdirSync(join(dir, 'manifests')).sort()).toEqual(EXAMPLE_FILES);
    }
    // The folder the functions read parses to the same Canaries the rule and the access entries came from.
    const bundled = checkManifestFolder(join(bundles[0], 'manifests'), { metricsServer: { type: 'prometheus', address: 'http://prometheus.monitoring:9090' } });
    expect(bundled.repositories).toEqual(stack.orchestrator.repositories);

    // Each bundle imports on its own, with no node_modules beside it, as in the Lambda runtime.
    const runs = await Promise.all(bundles.map((dir) => importInChild(join(dir, 'index.mjs'))));
    for (const [i, run] of runs.entries()) {
      expect({ task: TASKS[i], ok: run.ok, error: run.error, handler: run.handlerType }).toEqual({ task: TASKS[i], ok: true, error: undefined, handler: 'function' });
    }
  }, 60_000);

  describe.skipIf(requireTool('cfn-lint', cfnLintFound()).skip)('cfn-lint', () => {
    it('finds no error in the synthesized template', async () => {
      const { stdout } = await promisify(execFile)('cfn-lint', ['--format', 'json', synth.templateFile]).catch((error: { stdout?: string; code?: number }) => {
        // cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
        if (typeof error.code === 'number' && (error.code & 2) === 0 && error.stdout !== undefined) return { stdout: error.stdout };
        throw error;
      });
      const findings = (JSON.parse(stdout) as { Rule: { Id: string }; Level: string; Message: string }[]).map((f) => `${f.Level} ${f.Rule.Id}: ${f.Message}`);

      expect(findings.filter((f) => f.startsWith('Error'))).toEqual([]);
      // W3005: CDK writes DependsOn on a function's role and also refers to it with GetAtt; harmless.
      expect(findings.filter((f) => !/^Warning W3005:/.test(f))).toEqual([]);
    }, 60_000);
  });
});

/** The cloud assembly folder of the file asset uploaded as `objectKey`. */
function assetFolder(objectKey: string): string {
  const manifest = JSON.parse(readFileSync(join(synth.outdir, `${stack.artifactId}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
  };
  const asset = Object.values(manifest.files).find((file) => Object.values(file.destinations).some((d) => d.objectKey === objectKey));
  if (!asset) throw new Error(`no asset uploaded as ${objectKey}`);
  return join(synth.outdir, asset.source.path);
}

function byJson(a: unknown, b: unknown): number {
  return JSON.stringify(a).localeCompare(JSON.stringify(b));
}

function cfnLintFound(): boolean {
  try {
    return spawnSync('cfn-lint', ['--version']).status === 0;
  } catch {
    return false;
  }
}
