import { Duration, Validations } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "./watchkeeper-function.ts";

export interface OperatorAlarmsProps {
  namePrefix: string;
  /** Subscribed by email; the subscription must be confirmed from the mail AWS sends. */
  operatorEmail: string | undefined;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Who monitors the monitor: alarms on everything that would make Watchkeeper silently stop
 * watching, sent to one SNS topic the operator subscribes to. Every alarm also notifies on return
 * to OK, so the operator hears that the problem cleared.
 */
export class OperatorAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: OperatorAlarmsProps,
  ) {
    super(scope, id);
    this.topic = new Topic(this, "Topic", {
      displayName: "Watchkeeper operator alarms",
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Alarm notifications carry alarm names and metric values only. CloudWatch cannot publish to a topic " +
        "encrypted with the AWS-managed SNS key, and a customer-managed key would cost every user a monthly " +
        "fee for no confidentiality gain.",
    });
    if (props.operatorEmail) this.topic.addSubscription(new EmailSubscription(props.operatorEmail));
  }

  /** Any message in a dead-letter queue is work Watchkeeper gave up on. */
  whenQueueHoldsMessages(id: string, queue: IQueue, meaning: string): Alarm {
    return this.alarm(id, {
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: "Maximum" }),
      threshold: 1,
      description: meaning,
    });
  }

  /** Lambda-level errors: crashes, timeouts, init failures (per-record failures are reported separately). */
  whenFunctionErrors(id: string, fn: IFunction, meaning: string): Alarm {
    return this.alarm(id, {
      metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: "Sum" }),
      threshold: 1,
      description: meaning,
    });
  }

  whenFunctionThrottled(id: string, fn: IFunction, meaning: string): Alarm {
    return this.alarm(id, {
      metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: "Sum" }),
      threshold: 1,
      description: meaning,
    });
  }

  whenOldestMessageAge(id: string, queue: IQueue, threshold: Duration, meaning: string): Alarm {
    return this.alarm(id, {
      metric: queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: "Maximum" }),
      threshold: threshold.toSeconds(),
      description: meaning,
    });
  }

  whenStreamLags(id: string, fn: IFunction, threshold: Duration, meaning: string): Alarm {
    return this.alarm(id, {
      metric: fn.metric("IteratorAge", { period: FIVE_MINUTES, statistic: "Maximum" }),
      threshold: threshold.toMilliseconds(),
      description: meaning,
    });
  }

  /** A counter the Watchkeeper functions emit through Powertools Metrics (`service` dimension). */
  whenCounted(id: string, service: string, metricName: string, meaning: string): Alarm {
    return this.alarm(id, {
      metric: ownMetric(service, metricName, "Sum"),
      threshold: 1,
      description: meaning,
    });
  }

  /** A gauge the Watchkeeper functions emit, alarmed on its maximum over five minutes. */
  whenAbove(id: string, service: string, metricName: string, threshold: number, meaning: string): Alarm {
    return this.alarm(id, {
      metric: ownMetric(service, metricName, "Maximum"),
      threshold,
      description: meaning,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
  }

  /**
   * The dead-man's switch: fires when a counter the functions emit on a fixed cadence falls below
   * one over `window`. The one alarm where silence is the failure (missing data breaches).
   */
  whenNotCounted(id: string, service: string, metricName: string, window: Duration, meaning: string): Alarm {
    return this.alarm(id, {
      metric: ownMetric(service, metricName, "Sum", window),
      threshold: 1,
      description: meaning,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.BREACHING,
    });
  }

  private alarm(
    id: string,
    options: {
      metric: IMetric;
      threshold: number;
      description: string;
      /** @default GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
      comparisonOperator?: ComparisonOperator;
      /** @default NOT_BREACHING */
      treatMissingData?: TreatMissingData;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.props.namePrefix}-${id.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`,
      alarmDescription: options.description,
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator: options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // Idle queues and functions publish nothing: silence is health here (but for the heartbeat).
      treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
    return alarm;
  }
}

/** A metric the Watchkeeper functions emit through Powertools Metrics (`service` dimension). */
function ownMetric(
  service: string,
  metricName: string,
  statistic: string,
  period: Duration = FIVE_MINUTES,
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    period,
    statistic,
  });
}
