import { SESv2Client } from "@aws-sdk/client-sesv2";
import type { RequestTimeouts } from "#adapters/aws-request-handler.ts";
import { SES_REQUEST_TIMEOUTS, sesClientConfig } from "#adapters/ses-notifier.ts";

/**
 * An SES v2 client made now, with the notifier's bounded requests (sesClientConfig): for the
 * functions and tools that always mail (schedule-sync's error mail, `watchkeeper doctor`) and for
 * tests. The orchestrator, which mails on few ticks, makes its client on the first send instead
 * (lazySesClient in functions/adapters/ses-notifier.ts), so this module, and with it the SES
 * package, stays out of its main bundle.
 * @param timeouts of each attempt (tests shorten them)
 */
export function createSesClient(timeouts: RequestTimeouts = SES_REQUEST_TIMEOUTS): SESv2Client {
  return new SESv2Client(sesClientConfig(timeouts));
}
