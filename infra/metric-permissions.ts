// The AWS permissions the metric providers of the configured Canaries need, and nothing for providers no Canary uses.
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { ProviderSpec } from '../lambdas/core/spec';

export interface MetricPermissions {
  readonly statements: iam.PolicyStatement[];
  /** cdk-nag IAM5 findings these statements raise by design, with why: `Resource::…` → reason. */
  readonly wildcards: ReadonlyMap<string, string>;
}

/** `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/…` → `<id>`. */
const AMP_WORKSPACE_PATH = /^\/workspaces\/(ws-[A-Za-z0-9-]+)(\/|$)/;

/**
 * What querying `providers` takes, for the functions that query metrics:
 * - cloudwatch: `cloudwatch:GetMetricData`, which has no resource-level permissions;
 * - prometheus signed with SigV4 (Amazon Managed Service for Prometheus): `aps:QueryMetrics`
 *   on each workspace (in this stack's account), or on the region's workspaces when the address names none;
 * - prometheus with a secretRef: `secretsmanager:GetSecretValue` on each secret; a name matches
 *   the six characters Secrets Manager appends to its ARN. A secret encrypted with a
 *   customer-managed key also needs `kms:Decrypt`, which is the key owner's to grant.
 */
export function metricPermissions(providers: readonly ProviderSpec[]): MetricPermissions {
  const statements: iam.PolicyStatement[] = [];
  const wildcards = new Map<string, string>();
  if (providers.some((provider) => provider.type === 'cloudwatch')) {
    statements.push(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    wildcards.set('Resource::*', 'cloudwatch:GetMetricData takes no resource-level permissions: AWS documents Resource "*" for it.');
  }

  const workspaces = new Set<string>();
  for (const provider of providers) {
    if (provider.type !== 'prometheus' || !provider.sigv4 || !provider.region) continue;
    const id = provider.address && URL.canParse(provider.address) ? AMP_WORKSPACE_PATH.exec(new URL(provider.address).pathname)?.[1] : undefined;
    workspaces.add(`arn:${Aws.PARTITION}:aps:${provider.region}:${Aws.ACCOUNT_ID}:workspace/${id ?? '*'}`);
    if (!id) {
      wildcards.set(
        `Resource::arn:<AWS::Partition>:aps:${provider.region}:<AWS::AccountId>:workspace/*`,
        `A SigV4-signed Prometheus address that names no workspace (${provider.address}): the workspace behind it is unknown at synth time.`,
      );
    }
  }
  if (workspaces.size > 0) statements.push(new iam.PolicyStatement({ actions: ['aps:QueryMetrics'], resources: [...workspaces].sort() }));

  const secrets = new Set<string>();
  for (const provider of providers) {
    const name = provider.type === 'prometheus' ? provider.secretRef?.name : undefined;
    if (!name) continue;
    if (name.startsWith('arn:')) {
      // A complete ARN ends in the six-character suffix; a partial one does not, and matches with it.
      secrets.add(name);
      secrets.add(`${name}-??????`);
    } else {
      secrets.add(`arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${name}-??????`);
    }
  }
  if (secrets.size > 0) statements.push(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [...secrets].sort() }));

  return { statements, wildcards };
}
