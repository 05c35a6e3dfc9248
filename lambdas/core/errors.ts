// Named errors: Step Functions Retry and Catch match on each class's literal `name`.

/** A Canary or MetricTemplate manifest is invalid; the message names the path and the value. */
export class SpecValidationError extends Error {
  override readonly name = 'SpecValidationError';
  constructor(
    message: string,
    readonly issues: readonly string[] = [message],
  ) {
    super(message);
  }
}

/** The triggering event is not an ECR image push Fledge can act on. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** A query template names a variable the rollout does not define. */
export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
}

/** A Kubernetes object the rollout needs (Deployment, Service, HTTPRoute, container) does not exist. */
export class TargetNotFoundError extends Error {
  override readonly name = 'TargetNotFoundError';
}

/** The Kubernetes API failed in a way a retry may fix: 5xx, 429, timeout, connection error, lost update race. */
export class KubernetesTransientError extends Error {
  override readonly name = 'KubernetesTransientError';
}

/** The Kubernetes API refused a request for good (400, 401, 403, 422…): retrying will not help. */
export class KubernetesRequestError extends Error {
  override readonly name = 'KubernetesRequestError';
}

/** A metrics backend errored, timed out or answered something that is not one number. */
export class MetricProviderError extends Error {
  override readonly name = 'MetricProviderError';
}

/** The canary Deployment did not become ready within progressDeadlineSeconds. */
export class CanaryNotReadyError extends Error {
  override readonly name = 'CanaryNotReadyError';
}

/** The stable Deployment did not finish rolling out the promoted image within progressDeadlineSeconds. */
export class PromotionFailedError extends Error {
  override readonly name = 'PromotionFailedError';
}

/** The route's weights are not what Fledge set (someone edited them, or the data plane lost them). */
export class TrafficDriftError extends Error {
  override readonly name = 'TrafficDriftError';
}

/** A required environment variable or configuration value is missing or malformed. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** A webhook answered something other than 2xx, or did not answer in time. */
export class WebhookError extends Error {
  override readonly name = 'WebhookError';
}

/** A newer push took the target over: this execution stops without touching traffic. */
export class SupersededError extends Error {
  override readonly name = 'SupersededError';
}

/** A Flagger rollback webhook answered 2xx: someone asked for this rollout to be rolled back. */
export class RollbackRequestedError extends Error {
  override readonly name = 'RollbackRequestedError';
}

/** A gate (confirm-* webhooks) stayed closed for as many asks as an execution can hold. */
export class GateTimeoutError extends Error {
  override readonly name = 'GateTimeoutError';
}

/** The canary Deployment no longer runs the image this rollout created it with. */
export class CanaryDriftError extends Error {
  override readonly name = 'CanaryDriftError';
}
