// RolloutOrchestrator: Fledge on AWS — a Lambda per Task of rollout.asl.json, the state machine, the ECR push rule, least-privilege IAM and EKS access.
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SpecValidationError } from '../lambdas/core/errors';
import { showValue } from '../lambdas/core/show-value';
import { parseMetricsServer } from '../lambdas/core/spec';
import type { ProviderSpec } from '../lambdas/core/spec';
import { lambdaTasks } from './asl-tasks';
import type { LambdaTask } from './asl-tasks';
import { OrchestratorConfigError } from './errors';
import { metricPermissions } from './metric-permissions';
import { checkManifestFolder } from './manifests';
import type { ManifestFolder } from './manifests';
import { DEFAULT_KUBERNETES_GROUP, rbacManifest } from './rbac';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The one state machine definition, also run locally by `local/runner.ts`. */
export const DEFINITION_FILE = resolve(REPO_ROOT, 'statemachine/rollout.asl.json');
export const HANDLERS_DIR = resolve(REPO_ROOT, 'lambdas/handlers');

/** Where each function's bundle carries the manifests folder: Lambda unpacks the code into /var/task. */
export const BUNDLED_MANIFESTS_DIR = '/var/task/manifests';

/**
 * esbuild's ESM output turns `require()` of a Node builtin by bundled CommonJS into a shim that
 * throws "Dynamic require of process is not supported"; a real `require` from createRequire
 * makes those calls work. The same text as bench/bundle-size.ts measures.
 */
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __fledgeCreateRequire } from 'node:module'; const require = __fledgeCreateRequire(import.meta.url);";

/** Tasks whose handler publishes to the notification topic (`deps.notifier`); the others get no sns:Publish. */
export const NOTIFYING_TASKS: ReadonlySet<string> = new Set(['NotifyRollbackFailed']);
/** Tasks whose handler calls metric providers (`deps.metricProvider`): Initialize checks each is online, AnalyzeMetrics queries. */
export const METRIC_TASKS: ReadonlySet<string> = new Set(['Initialize', 'AnalyzeMetrics']);

/** Tasks whose handler asks the router for its metric template variables (the ALB router: DescribeTargetGroups). */
export const ROUTER_VARIABLE_TASKS: ReadonlySet<string> = new Set(['AnalyzeMetrics']);

/** A Lambda must stop before its Task state's TimeoutSeconds: its own timeout is then `Lambda.Unknown`, which the state retries, and no invocation outlives the state. */
function functionTimeout(task: LambdaTask): Duration {
  const stateSeconds = task.taskTimeoutSeconds ?? 120;
  return Duration.seconds(Math.min(900, Math.max(1, stateSeconds - Math.min(10, Math.floor(stateSeconds / 4)))));
}

const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const EKS_CLUSTER_ARN = /^arn:aws[a-z-]*:eks:[a-z0-9-]+:\d{12}:cluster\/([0-9A-Za-z][A-Za-z0-9_-]{0,99})$/;

export interface RolloutOrchestratorProps {
  /**
   * The EKS cluster's name, in this stack's account and region. Give this or `cluster`.
   * @default - the name of `cluster`
   */
  readonly clusterName?: string;
  /**
   * The cluster's ARN, with `clusterName`; it scopes `eks:DescribeCluster`.
   * @default - arn:<partition>:eks:<this stack's region>:<this stack's account>:cluster/<clusterName>
   */
  readonly clusterArn?: string;
  /**
   * The EKS cluster, imported (`eks.Cluster.fromClusterAttributes`) or defined in the same app.
   * Give this or `clusterName`. Its authentication mode must allow access entries (API or API_AND_CONFIG_MAP).
   * @default - the cluster named by `clusterName`
   */
  readonly cluster?: eks.ICluster;
  /**
   * A folder of Flagger `Canary` and `MetricTemplate` YAML files, relative to the working directory
   * of `cdk synth`. Checked at synth time with the parser the Lambdas use, bundled into every function.
   */
  readonly manifestsDir: string;
  /**
   * The VPC to run the functions in, for a cluster whose API endpoint is private. The subnets need a
   * route to the EKS API (`DescribeCluster`), SNS and your metrics servers: a NAT gateway or VPC endpoints.
   * @default - the functions run outside any VPC and reach a public cluster endpoint
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The subnets of `vpc` the functions run in.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups for the functions in `vpc`; the cluster's security group must allow them in on port 443.
   * @default - a security group per function, allowing all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * The topic told when a rollback fails and traffic may still be split. A topic encrypted with a
   * customer-managed KMS key needs `kms:GenerateDataKey` and `kms:Decrypt` granted to the notifying function's role.
   * @default - a topic is created (encrypted with the AWS-managed SNS key, TLS only); subscribe to it
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * How long the functions' and the state machine's log events are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The metrics server for builtin (`request-success-rate`, `request-duration`) and inline metrics
   * of Canaries that set no `spec.fledge.metricsServer`: `prometheus:<url>` or `web:<url>`.
   * @default - none: a Canary using such a metric must set spec.fledge.metricsServer, or synth fails
   */
  readonly metricsServer?: string;
  /**
   * The Kubernetes group the functions' EKS access entries put them in: the subject of the
   * RoleBinding in `rbacManifest`. Must not start with `system:`.
   * @default 'fledge-rollouts'
   */
  readonly kubernetesGroup?: string;
}

/**
 * Fledge's rollout machinery for one EKS cluster: a successful ECR push to a repository a Canary
 * claims starts the state machine, whose Task states are Lambda functions that work on the
 * cluster through an EKS access entry.
 */
export class RolloutOrchestrator extends Construct {
  /** The functions, by Task name (`ShiftWeight`). */
  public readonly functions: Readonly<Record<string, nodejs.NodejsFunction>>;
  public readonly stateMachine: sfn.StateMachine;
  /** The rule that starts an execution on each matching ECR push. */
  public readonly pushRule: events.Rule;
  public readonly notificationTopic: sns.ITopic;
  public readonly clusterName: string;
  /** ECR repositories whose pushes start a rollout. */
  public readonly repositories: readonly string[];
  /** Namespaces the access entries are scoped to: those of the Canaries. */
  public readonly namespaces: readonly string[];
  public readonly kubernetesGroup: string;
  /** The Role and RoleBinding YAML to `kubectl apply` once: HTTPRoutes are not in AmazonEKSEditPolicy. */
  public readonly rbacManifest: string;

  constructor(scope: Construct, id: string, props: RolloutOrchestratorProps) {
    super(scope, id);
    const settings = validateProps(props);
    const stack = Stack.of(this);
    const { manifests } = settings;
    this.clusterName = settings.clusterName;
    this.repositories = manifests.repositories;
    this.namespaces = manifests.namespaces;
    this.kubernetesGroup = settings.kubernetesGroup;
    this.rbacManifest = rbacManifest({ namespaces: manifests.namespaces, group: settings.kubernetesGroup });
    const clusterArn =
      props.cluster?.clusterArn ??
      props.clusterArn ??
      stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: settings.clusterName });
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.notificationTopic = props.notificationTopic ?? this.createTopic();

    const tasks = lambdaTasks(DEFINITION_FILE, HANDLERS_DIR);
    const metrics = metricPermissions(manifests.providers);
    const functions: Record<string, nodejs.NodejsFunction> = {};
    for (const task of tasks) {
      const notifies = NOTIFYING_TASKS.has(task.name);
      const queriesMetrics = METRIC_TASKS.has(task.name);
      const role = new iam.Role(this, `${task.name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description:
          `Fledge ${task.name}: its log group, eks:DescribeCluster on ${settings.clusterName}` +
          `${queriesMetrics && metrics.statements.length > 0 ? ', what its metric providers read' : ''}${notifies ? ', sns:Publish on the notification topic' : ''}`,
        // Lambda checks at creation that a VPC function's role may manage its network interfaces.
        managedPolicies: props.vpc ? [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')] : [],
      });
      const logGroup = new logs.LogGroup(this, `${task.name}Logs`, { retention });
      logGroup.grantWrite(role);
      // The endpoint and CA of the cluster; the bearer token is a presigned sts:GetCallerIdentity, which needs no permission.
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['eks:DescribeCluster'], resources: [clusterArn] }));
      const wildcards = new Map<string, string>(queriesMetrics ? metrics.wildcards : []);
      if (queriesMetrics) {
        for (const statement of metrics.statements) role.addToPrincipalPolicy(statement.copy());
      }
      if (ROUTER_VARIABLE_TASKS.has(task.name) && manifests.routers.includes('alb')) {
        // The canary target group's load balancer, for the CloudWatch dimensions of ALB metrics.
        role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeTargetGroups'], resources: ['*'] }));
        const reason = 'elasticloadbalancing:DescribeTargetGroups takes no resource-level permissions: AWS documents Resource "*" for Describe actions.';
        wildcards.set('Resource::*', wildcards.has('Resource::*') ? `${wildcards.get('Resource::*')} ${reason}` : reason);
      }
      for (const [finding, reason] of wildcards) {
        Validations.of(role).acknowledge({ id: `AwsSolutions::AwsSolutions-IAM5[${finding}]`, reason });
      }

      const fn = new nodejs.NodejsFunction(this, task.name, {
        description: `Fledge ${task.name} (${relative(REPO_ROOT, task.entry)})`,
        entry: task.entry,
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: resolve(REPO_ROOT, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 512,
        timeout: functionTimeout(task),
        role,
        logGroup,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroups: props.securityGroups,
        environment: {
          FLEDGE_MANIFESTS_DIR: BUNDLED_MANIFESTS_DIR,
          FLEDGE_EKS_CLUSTER: settings.clusterName,
          ...(props.metricsServer ? { FLEDGE_METRICS_SERVER: props.metricsServer } : {}),
          ...(notifies ? { FLEDGE_NOTIFY_TOPIC_ARN: this.notificationTopic.topicArn } : {}),
          NODE_OPTIONS: '--enable-source-maps',
        },
        bundling: {
          format: nodejs.OutputFormat.ESM,
          target: 'node22',
          mainFields: ['module', 'main'],
          banner: CREATE_REQUIRE_BANNER,
          // Bundle the AWS SDK too: ESM imports do not search the runtime's node_modules the way
          // require does, some @smithy packages Fledge imports are not in it, and the SDK that
          // ships is then the one the tests ran.
          externalModules: [],
          minify: true,
          sourceMap: true,
          // Stack traces need the mappings, not a copy of every source file.
          sourcesContent: false,
          forceDockerBundling: false,
          logLevel: nodejs.LogLevel.WARNING,
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_inputDir: string, outputDir: string) => copyManifestsCommands(manifests, outputDir),
          },
        },
      });
      if (notifies) this.notificationTopic.grantPublish(role);
      functions[task.name] = fn;

      new eks.CfnAccessEntry(this, `${task.name}AccessEntry`, {
        clusterName: settings.clusterName,
        principalArn: role.roleArn,
        type: 'STANDARD',
        kubernetesGroups: [settings.kubernetesGroup],
        accessPolicies: [
          {
            policyArn: `arn:${Aws.PARTITION}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy`,
            accessScope: { type: 'namespace', namespaces: [...manifests.namespaces] },
          },
        ],
      });
    }
    this.functions = functions;

    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', { retention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'Fledge canary rollout',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(DEFINITION_FILE),
      definitionSubstitutions: Object.fromEntries(tasks.map((task) => [task.placeholder, functions[task.name].functionArn])),
      tracingEnabled: true,
      logs: {
        destination: stateMachineLogs,
        level: sfn.LogLevel.ALL,
        // Every state's input and output (the plan, the status, each metric's value and the reason)
        // is in the execution history already; the log gets the events without the payloads, so
        // log readers do not also read rollout plans (webhook URLs, queries, metadata).
        includeExecutionData: false,
      },
    });
    // A state machine built from a file gets no IAM from its definition. The definition calls each
    // function by its unqualified ARN, so that is all it may invoke: no versions, no aliases.
    for (const fn of Object.values(functions)) fn.grantInvokeLatestVersion(this.stateMachine);

    this.pushRule = new events.Rule(this, 'EcrPushRule', {
      description: `Fledge: a successful push to ${manifests.repositories.join(', ')} starts a rollout`,
      eventPattern: {
        source: ['aws.ecr'],
        detailType: ['ECR Image Action'],
        detail: {
          'action-type': ['PUSH'],
          result: ['SUCCESS'],
          'repository-name': [...manifests.repositories],
        },
      },
      // The input is the whole event: Initialize reads the repository, tag and digest from it.
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });

    this.acknowledgeNagFindings(props.vpc !== undefined);
  }

  private createTopic(): sns.Topic {
    return new sns.Topic(this, 'NotificationTopic', {
      displayName: 'Fledge rollouts',
      enforceSSL: true,
      // The AWS-managed key: its key policy lets SNS use it for any publisher the topic's IAM allows.
      masterKey: kms.Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });
  }

  /** cdk-nag AwsSolutions findings that are by design, each with why. */
  private acknowledgeNagFindings(inVpc: boolean): void {
    for (const fn of Object.values(this.functions)) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'Node.js 22 is the runtime Fledge builds for (esbuild target node22) and tests; moving to a newer one is a deliberate change with its own tests.',
      });
      if (inVpc) {
        Validations.of(fn.role!).acknowledge({
          id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
          reason: "Lambda's own policy for managing a VPC function's network interfaces; those EC2 actions take no resource-level permissions, and it must be attached before the function is created.",
        });
      }
    }
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery (logs:CreateLogDelivery and related) take no resource-level permissions; AWS documents Resource "*" for both.',
    });
  }
}

/** The manifests' YAML files, copied into the bundle next to index.mjs. */
function copyManifestsCommands(manifests: ManifestFolder, outputDir: string): string[] {
  const quote = (path: string): string => `"${path.replace(/(["\\$`])/g, '\\$1')}"`;
  const target = `${outputDir}/manifests`;
  return [`mkdir -p ${quote(target)}`, ...manifests.files.map((file) => `cp ${quote(`${manifests.dir}/${file}`)} ${quote(`${target}/${file}`)}`)];
}

interface Settings {
  readonly clusterName: string;
  readonly kubernetesGroup: string;
  readonly metricsServer?: ProviderSpec;
  readonly manifests: ManifestFolder;
}

function validateProps(props: RolloutOrchestratorProps): Settings {
  function fail(message: string): never {
    throw new OrchestratorConfigError(`RolloutOrchestrator: ${message}`);
  }
  if (props.cluster && props.clusterName !== undefined) {
    fail(`give clusterName or cluster, not both; got clusterName ${showValue(props.clusterName)} and a cluster`);
  }
  if (props.cluster && props.clusterArn !== undefined) fail(`clusterArn goes with clusterName, not cluster; got ${showValue(props.clusterArn)}`);
  const clusterName = props.cluster?.clusterName ?? props.clusterName ?? fail('give clusterName or cluster; got neither');
  if (!Token.isUnresolved(clusterName) && !EKS_CLUSTER_NAME.test(clusterName)) {
    fail(`clusterName: expected an EKS cluster name (letters, digits, - and _, at most 100), got ${showValue(clusterName)}`);
  }
  if (props.clusterArn !== undefined && !Token.isUnresolved(props.clusterArn)) {
    const arnName = EKS_CLUSTER_ARN.exec(props.clusterArn)?.[1];
    if (arnName === undefined) fail(`clusterArn: expected arn:<partition>:eks:<region>:<account>:cluster/<name>, got ${showValue(props.clusterArn)}`);
    if (!Token.isUnresolved(clusterName) && arnName !== clusterName) {
      fail(`clusterArn: names cluster ${showValue(arnName)}, but clusterName is ${showValue(clusterName)}`);
    }
  }
  if (!props.vpc && props.vpcSubnets) fail('vpcSubnets: needs vpc, which is not set');
  if (!props.vpc && props.securityGroups) fail(`securityGroups: needs vpc, which is not set; got ${props.securityGroups.length} group(s)`);
  if (props.logRetention !== undefined && !Object.values(logs.RetentionDays).includes(props.logRetention)) {
    fail(`logRetention: expected a logs.RetentionDays value, got ${showValue(props.logRetention)}`);
  }
  const kubernetesGroup = props.kubernetesGroup ?? DEFAULT_KUBERNETES_GROUP;
  if (!/^[A-Za-z0-9][A-Za-z0-9:._@-]{0,62}$/.test(kubernetesGroup) || kubernetesGroup.startsWith('system:')) {
    fail(`kubernetesGroup: expected a Kubernetes group name not starting with "system:", got ${showValue(kubernetesGroup)}`);
  }
  let metricsServer: ProviderSpec | undefined;
  if (props.metricsServer !== undefined) {
    try {
      metricsServer = parseMetricsServer(props.metricsServer, 'metricsServer');
    } catch (error) {
      if (error instanceof SpecValidationError) fail(error.message);
      throw error;
    }
  }
  if (typeof props.manifestsDir !== 'string' || props.manifestsDir === '') {
    fail(`manifestsDir: expected a folder of Canary YAML files, got ${showValue(props.manifestsDir)}`);
  }
  let manifests: ManifestFolder;
  try {
    manifests = checkManifestFolder(resolve(props.manifestsDir), {
      clusterName: Token.isUnresolved(clusterName) ? undefined : clusterName,
      metricsServer,
    });
  } catch (error) {
    if (error instanceof OrchestratorConfigError) fail(error.message);
    throw error;
  }
  return { clusterName, kubernetesGroup, metricsServer, manifests };
}
