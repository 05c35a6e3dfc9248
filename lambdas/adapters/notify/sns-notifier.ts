// Notifications as messages on an SNS topic (email, chat or paging subscribe to it).
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../../ports/notifier';

/** SNS subjects are at most 100 printable ASCII characters. */
const SUBJECT_MAX = 100;

export class SnsNotifier implements Notifier {
  private readonly client: SNSClient;

  constructor(
    private readonly topicArn: string,
    client?: SNSClient,
  ) {
    // The topic's region is in its ARN: arn:aws:sns:<region>:<account>:<name>.
    this.client = client ?? new SNSClient({ region: topicArn.split(':')[3] });
  }

  async notify(subject: string, message: string): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: subject.replace(/[^\x20-\x7e]/g, '?').slice(0, SUBJECT_MAX),
        Message: message,
      }),
    );
  }
}
