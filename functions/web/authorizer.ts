import type { APIGatewayRequestAuthorizerEventV2 } from "aws-lambda";
import * as z from "zod";
import { type AccessTokenVerifier, cognitoAccessTokenVerifier } from "./session.ts";

/**
 * The HTTP API's Lambda REQUEST authorizer (simple responses) on every dashboard route: the
 * session cookie must hold a Cognito access token that aws-jwt-verify accepts (signature, issuer,
 * client id, expiry, token_use). The web function verifies it again (defence in depth, and the
 * only check locally). The sign-in, static and ack routes have no authorizer by design.
 */

export const AuthorizerEnvironmentSchema = z.object({
  USER_POOL_ID: z.string().min(1),
  USER_POOL_CLIENT_ID: z.string().min(1),
});

/** The access token cookie (Secure, so __Host- prefixed: functions/web/app.ts). */
export const ACCESS_COOKIE = "__Host-wk_at";

export function createAuthorizer(verifier: AccessTokenVerifier) {
  return async (event: Pick<APIGatewayRequestAuthorizerEventV2, "cookies" | "headers">) => {
    const cookies = event.cookies ?? event.headers?.cookie?.split(";") ?? [];
    const token = cookies
      .map((pair) => pair.trim())
      .find((pair) => pair.startsWith(`${ACCESS_COOKIE}=`))
      ?.slice(ACCESS_COOKIE.length + 1);
    if (!token) return { isAuthorized: false };
    try {
      const user = await verifier.verify(token);
      return { isAuthorized: true, context: { username: user.username } };
    } catch {
      return { isAuthorized: false };
    }
  };
}

let authorize: ReturnType<typeof createAuthorizer> | undefined;

export async function handler(event: APIGatewayRequestAuthorizerEventV2) {
  if (!authorize) {
    const env = AuthorizerEnvironmentSchema.parse(process.env);
    authorize = createAuthorizer(
      cognitoAccessTokenVerifier({ userPoolId: env.USER_POOL_ID, clientId: env.USER_POOL_CLIENT_ID }),
    );
  }
  return authorize(event);
}
