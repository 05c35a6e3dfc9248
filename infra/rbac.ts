// The Kubernetes Role and RoleBinding that let Fledge's Lambdas edit HTTPRoutes and Istio VirtualServices and read TargetGroupBindings, which EKS access policies do not cover.
import { stringify } from 'yaml';

/** The Kubernetes group the Lambdas' EKS access entries carry, and the RoleBinding's subject. */
export const DEFAULT_KUBERNETES_GROUP = 'fledge-rollouts';

/** The name of the Role and RoleBinding in each namespace. */
export const RBAC_NAME = 'fledge-httproutes';

export interface RbacManifestOptions {
  /** The Canaries' namespaces: one Role and one RoleBinding in each. */
  readonly namespaces: readonly string[];
  /** The group the RoleBinding binds. @default DEFAULT_KUBERNETES_GROUP */
  readonly group?: string;
}

/**
 * YAML to `kubectl apply -f` once per cluster. AmazonEKSEditPolicy is Kubernetes' `edit`
 * ClusterRole, which covers Deployments, Services, Events and Ingresses but no custom resource
 * such as Gateway API's HTTPRoute, Istio's VirtualService or the AWS Load Balancer Controller's
 * TargetGroupBinding; the access entry puts the Lambdas in `group`, and this binds that group,
 * namespace by namespace, to what the routers do with a route (read it, write it back with new
 * weights) and to reading the bindings that name the canary's ALB target group.
 */
export function rbacManifest({ namespaces, group = DEFAULT_KUBERNETES_GROUP }: RbacManifestOptions): string {
  if (namespaces.length === 0) throw new Error('rbacManifest: expected at least one namespace, got none');
  const labels = { 'app.kubernetes.io/managed-by': 'fledge' };
  const documents = namespaces.flatMap((namespace) => [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: RBAC_NAME, namespace, labels },
      rules: [
        {
          apiGroups: ['gateway.networking.k8s.io'],
          resources: ['httproutes'],
          verbs: ['get', 'list', 'update', 'patch'],
        },
        {
          apiGroups: ['networking.istio.io'],
          resources: ['virtualservices'],
          verbs: ['get', 'list', 'update', 'patch'],
        },
        {
          // The ALB router finds the canary's target group from the AWS Load Balancer Controller's bindings: read only.
          apiGroups: ['elbv2.k8s.aws'],
          resources: ['targetgroupbindings'],
          verbs: ['get', 'list'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: RBAC_NAME, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: RBAC_NAME },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
    },
  ]);
  const header =
    '# Fledge: lets the Lambdas (EKS access entries in Kubernetes group ' +
    `${group}) read and re-weight HTTPRoutes and Istio VirtualServices, and read TargetGroupBindings, in ${namespaces.join(', ')}.\n` +
    '# Apply once per cluster, and again when a Canary in a new namespace is added: kubectl apply -f <this file>\n';
  return header + documents.map((document) => stringify(document)).join('---\n');
}
