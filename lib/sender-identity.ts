import { CfnOutput, Stack, Validations } from "aws-cdk-lib";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { EmailIdentity, Identity } from "aws-cdk-lib/aws-ses";
import { Construct, type IConstruct } from "constructs";
import { nagArn } from "./nag.ts";
import type { WatchkeeperSettings } from "./settings.ts";

/**
 * The SES identity notifications are sent from. An email identity is verified by clicking the link
 * SES mails to it; a domain identity by publishing the DKIM records printed as stack outputs.
 */
export class SenderIdentity extends Construct {
  readonly identity: EmailIdentity;
  readonly senderEmail: string;
  /** WatchkeeperSettings.sesConfigurationSet: every SendEmail names it (SES_CONFIGURATION_SET). */
  readonly configurationSet: string | undefined;

  constructor(
    scope: Construct,
    id: string,
    settings: Pick<WatchkeeperSettings, "senderEmail" | "senderIdentity" | "sesConfigurationSet">,
  ) {
    super(scope, id);
    this.senderEmail = settings.senderEmail;
    this.configurationSet = settings.sesConfigurationSet;
    const sender = settings.senderIdentity;
    this.identity = new EmailIdentity(this, "Identity", {
      identity: sender.kind === "domain" ? Identity.domain(sender.domain) : Identity.email(sender.email),
    });
    if (sender.kind === "domain") {
      const tokens = [
        [this.identity.dkimDnsTokenName1, this.identity.dkimDnsTokenValue1],
        [this.identity.dkimDnsTokenName2, this.identity.dkimDnsTokenValue2],
        [this.identity.dkimDnsTokenName3, this.identity.dkimDnsTokenValue3],
      ] as const;
      tokens.forEach(([name, value], index) => {
        new CfnOutput(this, `DkimRecord${index + 1}`, {
          description: `DKIM CNAME record ${index + 1} to publish in ${sender.domain}'s DNS`,
          value: `${name} CNAME ${value}`,
        });
      });
    }
  }

  /**
   * SendEmail with this sender's address and no other. SES authorises SendEmail against every
   * identity involved: in the sandbox that includes the verified *recipient* identities, so a grant
   * on the sender's identity ARN alone fails with AccessDenied. The grant therefore covers the
   * account's identities, and the `ses:FromAddress` condition pins the sender.
   *
   * With a configuration set, SES v2 SendEmail also authorises against the configuration set's ARN
   * (its optional `configuration-set` resource type): exactly that one is granted, and since the
   * identity statement must allow the same request, the From address stays pinned.
   */
  grantSendEmail(grantee: IGrantable & IConstruct): void {
    if (this.configurationSet) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["ses:SendEmail"],
          resources: [this.configurationSetArn(this.configurationSet)],
        }),
      );
    }
    const identities = Stack.of(this).formatArn({ service: "ses", resource: "identity", resourceName: "*" });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["ses:SendEmail"],
        resources: [identities],
        conditions: { StringEquals: { "ses:FromAddress": this.senderEmail } },
      }),
    );
    Validations.of(grantee).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagArn(Stack.of(this), "ses:%region%:%account%:identity/*")}]`,
      reason:
        "SES authorises SendEmail against the recipients' identities too (sandbox); the ses:FromAddress condition limits the grant to Watchkeeper's sender address.",
    });
  }

  /** Sets SES_CONFIGURATION_SET, which the handlers pass to SesNotifier, when one is configured. */
  configure(fn: { addEnvironment(key: string, value: string): unknown }): void {
    if (this.configurationSet) fn.addEnvironment("SES_CONFIGURATION_SET", this.configurationSet);
  }

  private configurationSetArn(name: string): string {
    return Stack.of(this).formatArn({ service: "ses", resource: "configuration-set", resourceName: name });
  }
}
