import type { SESv2Client, SESv2ClientConfig } from "@aws-sdk/client-sesv2";
import { boundedRequestHandler, type RequestTimeouts } from "#adapters/aws-request-handler.ts";
import { lazyImport } from "#adapters/lazy-import.ts";
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

export const SES_REQUEST_TIMEOUTS: RequestTimeouts = { connectMs: 3_000, requestMs: 8_000 };

/**
 * The configuration of a client whose calls cannot hang: a stuck socket would otherwise hold the
 * invocation (and every monitor in its batch) until the function times out. 4 attempts × 8 s stays
 * inside the outbox lease.
 * @param timeouts of each attempt (tests shorten them)
 */
export function sesClientConfig(timeouts: RequestTimeouts = SES_REQUEST_TIMEOUTS): SESv2ClientConfig {
  return { maxAttempts: 4, requestHandler: boundedRequestHandler(timeouts) };
}

/**
 * The SES v2 package, imported on the first send. Most ticks send no mail: the orchestrator's main
 * bundle leaves the package out (a side bundle, lib/lambda-bundling.ts), so its cold start does not
 * parse SES's 100-odd operations. This module imports only its types; `createSesClient`
 * (functions/adapters/ses-client.ts) is the eager constructor for the functions and tools that
 * always mail.
 */
const loadSes = lazyImport(() => import("@aws-sdk/client-sesv2"));

/** A client made on first use (sesClientConfig), then kept: the orchestrator's. */
export function lazySesClient(timeouts: RequestTimeouts = SES_REQUEST_TIMEOUTS): () => Promise<SESv2Client> {
  return lazyImport(async () => new (await loadSes()).SESv2Client(sesClientConfig(timeouts)));
}

/**
 * SES v2 SendEmail. Throttling and 5xx are retried with backoff by the SDK's standard retry
 * strategy; what still fails is left in the outbox by the caller, and what SES refuses outright is
 * reported as a PermanentDeliveryError.
 */
export class SesNotifier implements Notifier {
  /**
   * @param client a client, or how to get one on the first send (lazySesClient, the default):
   * either way the SES package is loaded on the first send, not with this module.
   */
  constructor(
    private readonly from: string,
    private readonly client: SESv2Client | (() => Promise<SESv2Client>) = lazySesClient(),
    private readonly configurationSetName?: string,
  ) {}

  async send(email: Email): Promise<{ messageId: string }> {
    try {
      // Inside the try: a package or client that cannot load is a transient failure, as a send's.
      const [client, { SendEmailCommand }] = await Promise.all([
        typeof this.client === "function" ? this.client() : this.client,
        loadSes(),
      ]);
      const response = await client.send(
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
