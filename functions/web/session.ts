import { CognitoJwtVerifier } from "aws-jwt-verify";
import { validateCognitoJwtFields } from "aws-jwt-verify/cognito-verifier";
import type { Jwks, JwksCache } from "aws-jwt-verify/jwk";
import { JwtVerifier } from "aws-jwt-verify/jwt-verifier";

/**
 * Session tokens are Cognito access tokens, verified with aws-jwt-verify (AWS's own library): RS256
 * signature against the pool's JWKS, issuer, expiry, `token_use = access` and `client_id`. Never
 * by hand. In AWS the verifier is CognitoJwtVerifier (the issuer derives from the pool id);
 * against cognito-local the same checks run through JwtVerifier with the emulator's issuer, its
 * JWKS fetched once over loopback HTTP and cached (aws-jwt-verify fetches only over HTTPS).
 */

export interface SessionUser {
  username: string;
  sub: string;
  /** Expiry of the access token, epoch seconds. */
  exp: number;
}

export interface AccessTokenVerifier {
  /** Resolves with the user of a valid token; rejects otherwise. */
  verify(token: string): Promise<SessionUser>;
}

export interface CognitoVerifierOptions {
  userPoolId: string;
  clientId: string;
  /** cognito-local only: its issuer (`http://127.0.0.1:<port>/<poolId>`). */
  issuer?: string;
  /** cognito-local only: its JWKS (fetched by `fetchJwks`). */
  jwks?: Jwks;
}

function toUser(payload: Record<string, unknown>): SessionUser {
  const username = payload.username ?? payload["cognito:username"];
  if (typeof username !== "string" || typeof payload.sub !== "string" || typeof payload.exp !== "number") {
    throw new Error("the access token has no username");
  }
  return { username, sub: payload.sub, exp: payload.exp };
}

export function cognitoAccessTokenVerifier(options: CognitoVerifierOptions): AccessTokenVerifier {
  if (options.issuer) {
    const verifier = JwtVerifier.create({
      issuer: options.issuer,
      audience: null,
      jwksUri: `${options.issuer}/.well-known/jwks.json`,
      customJwtCheck: ({ payload }) =>
        validateCognitoJwtFields(payload, { tokenUse: "access", clientId: options.clientId, groups: null }),
    });
    if (options.jwks) verifier.cacheJwks(options.jwks);
    return { verify: async (token) => toUser((await verifier.verify(token)) as Record<string, unknown>) };
  }
  const verifier = CognitoJwtVerifier.create({
    userPoolId: options.userPoolId,
    tokenUse: "access",
    clientId: options.clientId,
  });
  return { verify: async (token) => toUser((await verifier.verify(token)) as Record<string, unknown>) };
}

/** The JWKS of a cognito-local pool (loopback HTTP). */
export async function fetchJwks(issuer: string): Promise<Jwks> {
  const response = await fetch(`${issuer}/.well-known/jwks.json`);
  if (!response.ok) throw new Error(`JWKS of ${issuer}: HTTP ${response.status}`);
  return (await response.json()) as Jwks;
}

export type { JwksCache };
