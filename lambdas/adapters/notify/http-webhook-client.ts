// Calls Flagger-style webhooks over HTTP: POST JSON, 2xx is success, with a timeout.
import { WebhookError } from '../../core/errors';
import type { WebhookPayload } from '../../core/webhooks';
import type { WebhookClient } from '../../ports/webhook-client';
import { networkErrorCode } from '../network-error';

const SHOWN_CHARS = 200;

export class HttpWebhookClient implements WebhookClient {
  async call(url: string, payload: WebhookPayload, timeoutSeconds: number): Promise<void> {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(timeoutSeconds * 1000),
      });
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new WebhookError(`${url} did not answer within ${timeoutSeconds}s`);
      }
      throw new WebhookError(`${url} is unreachable: ${networkErrorCode(error)}`);
    }
    const body = (await response.text().catch(() => '')).trim().slice(0, SHOWN_CHARS);
    if (!response.ok) {
      throw new WebhookError(`${url} answered HTTP ${response.status}${body ? `: ${body}` : ''}`);
    }
  }
}
