import { randomBytes } from "node:crypto";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CognitoAuthenticator } from "#adapters/cognito-auth.ts";
import { DynamoDashboardStore } from "#adapters/dashboard-store.ts";
import { DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { AcknowledgementService } from "#core/ack.ts";
import { type AckLinkKeySource, AckLinks } from "#core/ack-link.ts";
import type { Logger } from "#core/ports.ts";
import { createWebApp } from "../functions/web/app.ts";
import { cognitoAccessTokenVerifier, fetchJwks } from "../functions/web/session.ts";
import { type LocalCognito, startCognitoLocal } from "./cognito.ts";
import { type LocalWebServer, startWebServer } from "./web-server.ts";

/**
 * The dashboard on this machine: the same web handler as the Lambda, served on 127.0.0.1, signing
 * in against cognito-local, acking through the same use case, and verifying ack links with a key
 * made for this run (AWS: the Secrets Manager secret). Cookies are not Secure here (plain http on
 * loopback), everything else is as deployed.
 */

export interface LocalWeb {
  /** The dashboard's URL (`http://127.0.0.1:<port>/`). */
  url: string;
  cognito: LocalCognito;
  /** The signing key of this run's ack links (the orchestrator gets it through its environment). */
  linkKey: string;
  /** The engine's NotificationLinks for this dashboard. */
  links: AckLinks;
  stop(): Promise<void>;
}

export interface LocalWebOptions {
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  tableName: string;
  queueUrl: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** The ack link key (absent: a random one). */
  linkKey?: string;
  cognitoPort?: number;
  logger?: Logger;
  clock?: () => Date;
}

/** A fresh random link key for a local run. */
export const newLocalLinkKey = () => randomBytes(32).toString("base64url");

export async function startLocalWeb(options: LocalWebOptions): Promise<LocalWeb> {
  const cognito = await startCognitoLocal(options.cognitoPort ? { port: options.cognitoPort } : {});
  try {
    const linkKey = options.linkKey ?? newLocalLinkKey();
    const linkKeys: AckLinkKeySource = { keys: async () => ({ current: linkKey }) };
    const store = new DynamoMonitorStore(options.tableName, options.doc);
    const dashboard = new DynamoDashboardStore(
      options.doc,
      options.tableName,
      { sqs: options.sqs, queueUrl: options.queueUrl },
      options.logger,
    );
    const app = createWebApp({
      reads: dashboard,
      control: dashboard,
      store,
      acks: new AcknowledgementService({ store }),
      auth: new CognitoAuthenticator({ endpoint: cognito.endpoint, clientId: cognito.clientId }),
      sessions: cognitoAccessTokenVerifier({
        userPoolId: cognito.userPoolId,
        clientId: cognito.clientId,
        issuer: cognito.issuer,
        jwks: await fetchJwks(cognito.issuer),
      }),
      linkKeys,
      secureCookies: false,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const server: LocalWebServer = await startWebServer(app, options.port ? { port: options.port } : {});
    return {
      url: server.url,
      cognito,
      linkKey,
      links: new AckLinks({ dashboardUrl: server.url, keys: linkKeys }),
      stop: async () => {
        await server.stop();
        await cognito.stop();
      },
    };
  } catch (error) {
    await cognito.stop();
    throw error;
  }
}
