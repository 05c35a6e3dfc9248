// Builtin metrics for the ALB router on CloudWatch: the canary target group's own AWS/ApplicationELB metrics, over the metric's whole window.
import type { BuiltinMetric } from '../builtin-metrics';

/** The canary's target group on its load balancer: the dimensions ALB publishes per-target-group metrics under. */
const CANARY_TARGET_GROUP = [
  { Name: 'LoadBalancer', Value: '{{ loadBalancer }}' },
  { Name: 'TargetGroup', Value: '{{ targetGroup }}' },
];

function stat(id: string, metricName: string, statistic: string, periodSeconds: number) {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: 'AWS/ApplicationELB', MetricName: metricName, Dimensions: CANARY_TARGET_GROUP },
      Period: periodSeconds,
      Stat: statistic,
    },
    ReturnData: false,
  };
}

/**
 * The MetricDataQuery list of a builtin on ALB. The period is the metric's whole interval, so
 * the one datapoint is the window's aggregate (all its requests, all its 5xx; the p99 of all its
 * responses), not the newest minute's.
 * - request-success-rate: percent of the canary's requests its targets did not answer with a 5xx.
 *   ALB publishes no HTTPCode_Target_5XX_Count for a minute without one, hence FILL; and no
 *   RequestCount without requests, so a window without traffic has no datapoint: no data, a
 *   failed check, as no traffic is not health.
 * - request-duration: TargetResponseTime's p99, which ALB reports in seconds, in milliseconds.
 */
export function albCloudWatchQuery(metric: BuiltinMetric, periodSeconds: number): string {
  switch (metric) {
    case 'request-success-rate':
      return JSON.stringify([
        stat('requests', 'RequestCount', 'Sum', periodSeconds),
        stat('errors', 'HTTPCode_Target_5XX_Count', 'Sum', periodSeconds),
        { Id: 'success_rate', Expression: '100 - 100 * FILL(errors, 0) / requests', Label: 'request-success-rate', ReturnData: true },
      ]);
    case 'request-duration':
      return JSON.stringify([
        stat('seconds', 'TargetResponseTime', 'p99', periodSeconds),
        { Id: 'duration_ms', Expression: 'seconds * 1000', Label: 'request-duration', ReturnData: true },
      ]);
  }
}
