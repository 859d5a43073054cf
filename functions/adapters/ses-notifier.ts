import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import type { Email, Notifier } from "#core/ports.ts";

/**
 * SES v2 SendEmail. Throttling and 5xx are retried with backoff by the SDK's standard retry
 * strategy (`maxAttempts`); what still fails is left in the outbox by the caller.
 */
export class SesNotifier implements Notifier {
  constructor(
    private readonly from: string,
    private readonly client: SESv2Client = new SESv2Client({ maxAttempts: 4 }),
    private readonly configurationSetName?: string,
  ) {}

  async send(email: Email): Promise<{ messageId: string }> {
    const response = await this.client.send(
      new SendEmailCommand({
        FromEmailAddress: this.from,
        Destination: { ToAddresses: [...email.to] },
        Content: {
          Simple: {
            Subject: { Data: email.subject, Charset: "UTF-8" },
            Body: {
              Text: { Data: email.text, Charset: "UTF-8" },
              Html: { Data: email.html, Charset: "UTF-8" },
            },
          },
        },
        ...(this.configurationSetName ? { ConfigurationSetName: this.configurationSetName } : {}),
      }),
    );
    return { messageId: response.MessageId ?? "unknown" };
  }
}
