// Port: calls a Flagger webhook (POST of the JSON payload); any answer but 2xx is a failure.
import type { WebhookPayload } from '../core/webhooks';

export interface WebhookClient {
  /** Resolves on a 2xx answer; throws WebhookError naming the hook and what went wrong otherwise. */
  call(url: string, payload: WebhookPayload, timeoutSeconds: number): Promise<void>;
}
