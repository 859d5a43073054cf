import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { boundedRequestHandler, type RequestTimeouts } from "#adapters/aws-request-handler.ts";
import type { Email, Notifier } from "#core/ports.ts";
import { PermanentDeliveryError } from "#core/ports.ts";

/**
 * SES errors about the message or the account's setup, which no retry of the same message can fix
 * (an unverified sandbox recipient, an unverified sender, a missing configuration set, no
 * permission). Throttling, quotas and 5xx stay transient.
 */
const PERMANENT_ERRORS = new Set([
  "MessageRejected",
  "MailFromDomainNotVerifiedException",
  "BadRequestException",
  "NotFoundException",
  "AccessDeniedException",
  "AccountSuspendedException",
]);

const SES_REQUEST_TIMEOUTS: RequestTimeouts = { connectMs: 3_000, requestMs: 8_000 };

/**
 * A client whose calls cannot hang: a stuck socket would otherwise hold the invocation (and every
 * monitor in its batch) until the function times out. 4 attempts × 8 s stays inside the outbox lease.
 * @param timeouts of each attempt (tests shorten them)
 */
export function createSesClient(timeouts: RequestTimeouts = SES_REQUEST_TIMEOUTS): SESv2Client {
  return new SESv2Client({
    maxAttempts: 4,
    requestHandler: boundedRequestHandler(timeouts),
  });
}

/**
 * SES v2 SendEmail. Throttling and 5xx are retried with backoff by the SDK's standard retry
 * strategy; what still fails is left in the outbox by the caller, and what SES refuses outright is
 * reported as a PermanentDeliveryError.
 */
export class SesNotifier implements Notifier {
  constructor(
    private readonly from: string,
    private readonly client: SESv2Client = createSesClient(),
    private readonly configurationSetName?: string,
  ) {}

  async send(email: Email): Promise<{ messageId: string }> {
    try {
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
    } catch (error) {
      if (error instanceof Error && PERMANENT_ERRORS.has(error.name)) {
        throw new PermanentDeliveryError(`SES refused the message: ${error.name}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}
