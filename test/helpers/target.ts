// The rollout target most adapter tests act on: Deployment, Service and route `prod/web`, the canary `web-canary`.
import type { RolloutTarget } from '../../lambdas/ports/target';

export const WEB_TARGET: RolloutTarget = {
  namespace: 'prod',
  deployment: 'web',
  canaryDeployment: 'web-canary',
  service: 'web',
  canaryService: 'web-canary',
  port: 80,
  route: 'web',
};
