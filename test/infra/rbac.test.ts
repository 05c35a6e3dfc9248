// The Role and RoleBinding users apply once, because EKS access policies do not cover HTTPRoutes, VirtualServices or TargetGroupBindings.
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { rbacManifest } from '../../infra/rbac';

describe('rbacManifest', () => {
  it('binds the group to re-weighting HTTPRoutes and Istio VirtualServices and to reading TargetGroupBindings, in each namespace', () => {
    const yaml = rbacManifest({ namespaces: ['prod', 'staging'], group: 'fledge-eu' });
    const documents = parseAllDocuments(yaml).map((document) => document.toJS());

    expect(documents).toEqual(
      ['prod', 'staging'].flatMap((namespace) => [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'fledge-httproutes', namespace, labels: { 'app.kubernetes.io/managed-by': 'fledge' } },
          rules: [
            { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'update', 'patch'] },
            { apiGroups: ['networking.istio.io'], resources: ['virtualservices'], verbs: ['get', 'list', 'update', 'patch'] },
            { apiGroups: ['elbv2.k8s.aws'], resources: ['targetgroupbindings'], verbs: ['get', 'list'] },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'fledge-httproutes', namespace, labels: { 'app.kubernetes.io/managed-by': 'fledge' } },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'fledge-httproutes' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'fledge-eu' }],
        },
      ]),
    );
    expect(yaml.startsWith('# Fledge: lets the Lambdas')).toBe(true);
  });

  it('binds fledge-rollouts by default and needs a namespace', () => {
    expect(rbacManifest({ namespaces: ['prod'] })).toContain('kind: Group\n    name: fledge-rollouts');
    expect(() => rbacManifest({ namespaces: [] })).toThrow('rbacManifest: expected at least one namespace, got none');
  });
});
