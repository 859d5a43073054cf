import type { APIGatewayRequestAuthorizerEventV2 } from "aws-lambda";
import * as z from "zod";
import { type AccessTokenVerifier, cognitoAccessTokenVerifier } from "./session.ts";

/**
 * The HTTP API's Lambda REQUEST authorizer (simple responses) on every dashboard route: the
 * session cookie must hold a Cognito access token that aws-jwt-verify accepts (signature, issuer,
 * client id, expiry, token_use). The web function verifies it again (defence in depth, and the
 * only check locally). The sign-in, static and ack routes have no authorizer by design.
 *
 * A request whose access token is missing or expired but that carries a refresh token is let
 * through to the web function, which refreshes the session (or sends the browser to sign in): the
 * browser drops the access cookie when the token expires (an hour), and refusing here would end
 * every session after that hour and make "Sign out" (which revokes the refresh token) fail. The
 * web function verifies every non-public route itself, so this passes nothing unverified.
 */

export const AuthorizerEnvironmentSchema = z.object({
  USER_POOL_ID: z.string().min(1),
  USER_POOL_CLIENT_ID: z.string().min(1),
});

/** The access token cookie (Secure, so __Host- prefixed: functions/web/app.ts). */
export const ACCESS_COOKIE = "__Host-wk_at";
/** The refresh token cookie: the web function trades it for a new access token. */
export const REFRESH_COOKIE = "__Host-wk_rt";

function cookieValue(cookies: readonly string[], name: string): string | undefined {
  return cookies
    .map((pair) => pair.trim())
    .find((pair) => pair.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}

export function createAuthorizer(verifier: AccessTokenVerifier) {
  return async (event: Pick<APIGatewayRequestAuthorizerEventV2, "cookies" | "headers">) => {
    const cookies = event.cookies ?? event.headers?.cookie?.split(";") ?? [];
    const token = cookieValue(cookies, ACCESS_COOKIE);
    const refreshable = { isAuthorized: Boolean(cookieValue(cookies, REFRESH_COOKIE)) };
    if (!token) return refreshable;
    try {
      const user = await verifier.verify(token);
      return { isAuthorized: true, context: { username: user.username } };
    } catch {
      return refreshable;
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
