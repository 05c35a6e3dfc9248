// The workload a rollout acts on: the stable Deployment, its Service and the names Fledge derives from them.
export interface RolloutTarget {
  /** Namespace of the stable Deployment, its Service and the route. */
  readonly namespace: string;
  /** Stable Deployment, the Canary's spec.targetRef.name (for example `web`). */
  readonly deployment: string;
  /** Canary Deployment Fledge creates (`<deployment>-canary`). */
  readonly canaryDeployment: string;
  /** Stable Service, spec.service.name or the target name. */
  readonly service: string;
  /** Canary Service Fledge creates (`<service>-canary`). */
  readonly canaryService: string;
  /** Service port (spec.service.port). */
  readonly port: number;
  /** Routing object the router adopts, for Gateway API the HTTPRoute name (defaults to the service name). */
  readonly route: string;
}
