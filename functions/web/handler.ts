import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import * as z from "zod";
import { SecretsManagerAckLinkKeys } from "#adapters/ack-link-keys.ts";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { CognitoAuthenticator } from "#adapters/cognito-auth.ts";
import { DynamoDashboardStore } from "#adapters/dashboard-store.ts";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { AcknowledgementService } from "#core/ack.ts";
import { createWebApp } from "./app.ts";
import { cognitoAccessTokenVerifier } from "./session.ts";

/** The dashboard's Lambda (lib/dashboard.ts): API Gateway HTTP API, payload 2.0. */

export const WebEnvironmentSchema = z.object({
  MONITORS_TABLE: z.string().min(1),
  TICKS_QUEUE_URL: z.string().url(),
  USER_POOL_ID: z.string().min(1),
  USER_POOL_CLIENT_ID: z.string().min(1),
  ACK_LINK_SECRET_ARN: z.string().min(1),
  AWS_REGION: z.string().min(1),
  /** The dashboard's public URL: POSTs must come from its origin. Absent: the request's Host. */
  DASHBOARD_URL: z.string().url().optional(),
});

const logger = new Logger();
let app: ReturnType<typeof createWebApp> | undefined;

function build(): ReturnType<typeof createWebApp> {
  const env = WebEnvironmentSchema.parse(process.env);
  const doc = createDocumentClient();
  const store = new DynamoMonitorStore(env.MONITORS_TABLE, doc);
  const dashboard = new DynamoDashboardStore(
    doc,
    env.MONITORS_TABLE,
    {
      sqs: new SQSClient({ requestHandler: boundedRequestHandler() }),
      queueUrl: env.TICKS_QUEUE_URL,
    },
    logger,
  );
  return createWebApp({
    reads: dashboard,
    control: dashboard,
    store,
    acks: new AcknowledgementService({ store }),
    auth: new CognitoAuthenticator({
      endpoint: `https://cognito-idp.${env.AWS_REGION}.amazonaws.com/`,
      clientId: env.USER_POOL_CLIENT_ID,
    }),
    sessions: cognitoAccessTokenVerifier({ userPoolId: env.USER_POOL_ID, clientId: env.USER_POOL_CLIENT_ID }),
    linkKeys: new SecretsManagerAckLinkKeys({ secretArn: env.ACK_LINK_SECRET_ARN }),
    secureCookies: true,
    origin: env.DASHBOARD_URL ? new URL(env.DASHBOARD_URL).origin : undefined,
    logger,
  });
}

export async function handler(event: APIGatewayProxyEventV2) {
  app ??= build();
  return app(event);
}
