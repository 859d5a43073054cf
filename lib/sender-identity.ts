import { CfnOutput, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { EmailIdentity, Identity, type IEmailIdentity } from "aws-cdk-lib/aws-ses";
import { Construct, type IConstruct } from "constructs";
import { nagArn } from "./nag.ts";
import type { WatchkeeperSettings } from "./settings.ts";

/**
 * The SES identity notifications are sent from. By default it already exists in the account and
 * region (verified beforehand, possibly shared with other applications): the stack only refers to
 * it and never creates, changes or deletes it. SES identities cannot be looked up at synth, so
 * creating one is the explicit `createSenderIdentity` setting; the stack then retains it on
 * destroy (other applications may have started sending from it) and, for a domain, prints the DKIM
 * records to publish. An email identity is verified by clicking the link SES mails to it.
 */
export class SenderIdentity extends Construct {
  /** The identity, whether this stack created it (`created`) or only refers to it. */
  readonly identity: IEmailIdentity;
  readonly created: boolean;
  readonly senderEmail: string;
  /** WatchkeeperSettings.sesConfigurationSet: every SendEmail names it (SES_CONFIGURATION_SET). */
  readonly configurationSet: string | undefined;
  /** WatchkeeperSettings.allowedRecipientDomains: the only domains SendEmail may address. */
  readonly allowedRecipientDomains: readonly string[] | undefined;

  constructor(
    scope: Construct,
    id: string,
    settings: Pick<
      WatchkeeperSettings,
      | "senderEmail"
      | "senderIdentity"
      | "sesConfigurationSet"
      | "createSenderIdentity"
      | "allowedRecipientDomains"
    >,
  ) {
    super(scope, id);
    this.senderEmail = settings.senderEmail;
    this.configurationSet = settings.sesConfigurationSet;
    this.allowedRecipientDomains = settings.allowedRecipientDomains;
    this.created = settings.createSenderIdentity;
    const sender = settings.senderIdentity;
    const identityName = sender.kind === "domain" ? sender.domain : sender.email;
    if (!this.created) {
      this.identity = EmailIdentity.fromEmailIdentityName(this, "Identity", identityName);
      return;
    }
    // Same construct id as before this setting existed: a stack that already created its identity
    // keeps the same logical id, so deploying with createSenderIdentity=true only adds the Retain.
    const identity = new EmailIdentity(this, "Identity", {
      identity: sender.kind === "domain" ? Identity.domain(sender.domain) : Identity.email(sender.email),
    });
    // Retained on destroy, on removal from the template and on replacement; deleted only when the
    // deploy that created it rolls back, so a failed first deploy leaves no identity in the way of
    // the next (DeletionPolicy RetainExceptOnCreate).
    identity.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
    this.identity = identity;
    if (sender.kind === "domain") {
      const tokens = [
        [identity.dkimDnsTokenName1, identity.dkimDnsTokenValue1],
        [identity.dkimDnsTokenName2, identity.dkimDnsTokenValue2],
        [identity.dkimDnsTokenName3, identity.dkimDnsTokenValue3],
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
   *
   * With allowedRecipientDomains, every statement also requires each recipient (`ses:Recipients`:
   * To, Cc and Bcc) to match `*@<domain>` for one of them (StringLike is case-sensitive: the
   * handlers lowercase the domains they send to).
   */
  grantSendEmail(grantee: IGrantable & IConstruct): void {
    if (this.configurationSet) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["ses:SendEmail"],
          resources: [this.configurationSetArn(this.configurationSet)],
          ...(this.recipientsCondition() ? { conditions: this.recipientsCondition() } : {}),
        }),
      );
    }
    const identities = Stack.of(this).formatArn({ service: "ses", resource: "identity", resourceName: "*" });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["ses:SendEmail"],
        resources: [identities],
        conditions: {
          StringEquals: { "ses:FromAddress": this.senderEmail },
          ...this.recipientsCondition(),
        },
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
    if (this.allowedRecipientDomains?.length) {
      fn.addEnvironment("ALLOWED_RECIPIENT_DOMAINS", this.allowedRecipientDomains.join(","));
    }
  }

  /**
   * ForAllValues: every recipient must match. (It would also hold for a request without
   * recipients, which SES refuses anyway.)
   */
  private recipientsCondition(): Record<string, Record<string, string[]>> | undefined {
    if (!this.allowedRecipientDomains?.length) return undefined;
    return {
      "ForAllValues:StringLike": {
        "ses:Recipients": this.allowedRecipientDomains.map((domain) => `*@${domain}`),
      },
    };
  }

  private configurationSetArn(name: string): string {
    return Stack.of(this).formatArn({ service: "ses", resource: "configuration-set", resourceName: name });
  }
}
