import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { PermanentDeliveryError } from "#core/ports.ts";

/** aws-ses-v2-local accepts everything: the refusals SES can produce are injected here. */
const email = { to: ["ops@example.com"], subject: "[Monitor ALERT] X", text: "t", html: "<p>t</p>" };
const failing = (name: string) => {
  const client = new SESv2Client({ region: "us-east-1", maxAttempts: 1 });
  mockClient(client)
    .on(SendEmailCommand)
    .rejects(Object.assign(new Error(`${name} happened`), { name }));
  return new SesNotifier("watchkeeper@example.com", client);
};

describe("SesNotifier error classes", () => {
  it.each([
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccessDeniedException",
    "BadRequestException",
  ])("reports %s as permanent", async (name) => {
    await expect(failing(name).send(email)).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(failing(name).send(email)).rejects.toThrow(new RegExp(name));
  });

  it.each(["TooManyRequestsException", "LimitExceededException", "InternalServiceErrorException"])(
    "leaves %s transient",
    async (name) => {
      const error = await failing(name)
        .send(email)
        .catch((thrown: unknown) => thrown);
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
      expect((error as Error).name).toBe(name);
    },
  );
});
