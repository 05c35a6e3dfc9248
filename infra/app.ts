// The Fledge CDK app (cdk.json runs it): one FledgeStack, configured by `-c fledge:<key>=…` or environment variables.
import { Annotations, App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrchestratorConfigError } from './errors';
import { FledgeStack } from './fledge-stack';

/** What `npm run synth` uses when nothing is set: the examples, a placeholder cluster, and the examples' Prometheus. */
const EXAMPLE = {
  clusterName: 'my-cluster',
  manifestsDir: 'examples',
  metricsServer: 'prometheus:http://prometheus.monitoring:9090',
} as const;

const app = new App();
/** Context (`-c fledge:<key>=…`, or cdk.json) first, then the environment variable. */
const setting = (key: string, variable: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(`fledge:${key}`) ?? process.env[variable];
  return value === undefined || value === '' ? undefined : String(value);
};

const clusterName = setting('clusterName', 'FLEDGE_EKS_CLUSTER') ?? EXAMPLE.clusterName;
const manifestsDir = setting('manifestsDir', 'FLEDGE_MANIFESTS_DIR');
// The examples' builtin metrics need a metrics server. A folder of your own gets none unless you set one, so
// that a Canary needing one fails synth rather than querying a Prometheus you did not choose.
const metricsServer = setting('metricsServer', 'FLEDGE_METRICS_SERVER') ?? (manifestsDir === undefined ? EXAMPLE.metricsServer : undefined);

let stack: FledgeStack;
try {
  // Environment-agnostic: `cdk deploy` uses the account and region of your AWS credentials.
  stack = new FledgeStack(app, setting('stackName', 'FLEDGE_STACK_NAME') ?? 'Fledge', {
    orchestrator: { clusterName, manifestsDir: manifestsDir ?? EXAMPLE.manifestsDir, metricsServer },
  });
} catch (error) {
  // A bad prop or manifest: the message names the file, the path and the value; a stack trace adds nothing.
  if (!(error instanceof OrchestratorConfigError)) throw error;
  console.error(`${error.name}: ${error.message}`);
  process.exit(1);
}
if (clusterName === EXAMPLE.clusterName) {
  Annotations.of(stack).addWarningV2(
    'fledge:placeholder-cluster',
    `clusterName is the placeholder "${EXAMPLE.clusterName}": set -c fledge:clusterName=<your cluster> (or FLEDGE_EKS_CLUSTER) before cdk deploy`,
  );
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
