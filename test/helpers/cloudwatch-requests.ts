// Records the GetMetricData requests a CloudWatch client sends, as CloudWatch receives them: for what moto cannot evaluate, the test checks what was asked.
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';

/** The GetMetricData bodies `client` sends from now on (JSON protocol), in order. */
export function recordGetMetricData(client: CloudWatchClient): Record<string, any>[] {
  const sent: Record<string, any>[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body?: unknown };
      if (String(request.headers['x-amz-target'] ?? '').endsWith('GetMetricData')) {
        const body = request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : String(request.body);
        sent.push(JSON.parse(body));
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordGetMetricData' },
  );
  return sent;
}
