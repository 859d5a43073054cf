/**
 * Sign-in against a Cognito user pool through its public JSON API (InitiateAuth and
 * RespondToAuthChallenge need no AWS credentials, only the app client id): USER_PASSWORD_AUTH,
 * the NEW_PASSWORD_REQUIRED and SOFTWARE_TOKEN_MFA challenges, and REFRESH_TOKEN_AUTH. The same
 * calls run against cognito-local, whose endpoint replaces Cognito's. Plain fetch instead of
 * @aws-sdk/client-cognito-identity-provider (not a dependency): two unsigned JSON calls.
 * Passwords and codes are sent, never logged; errors carry Cognito's error type only.
 */

export interface AuthTokens {
  accessToken: string;
  /** Absent on a refresh (Cognito keeps the refresh token). */
  refreshToken?: string | undefined;
  /** Seconds. */
  expiresIn: number;
}

export type AuthResult =
  | { kind: "signed-in"; tokens: AuthTokens }
  | { kind: "challenge"; challenge: "NEW_PASSWORD_REQUIRED" | "SOFTWARE_TOKEN_MFA"; session: string }
  | { kind: "failed"; reason: string };

export interface Authenticator {
  signIn(username: string, password: string): Promise<AuthResult>;
  newPassword(username: string, newPassword: string, session: string): Promise<AuthResult>;
  mfaCode(username: string, code: string, session: string): Promise<AuthResult>;
  refresh(refreshToken: string): Promise<AuthTokens | undefined>;
  /** Revokes a refresh token (sign-out): it can no longer refresh a session. */
  revoke(refreshToken: string): Promise<void>;
}

const FAILURES: Record<string, string> = {
  NotAuthorizedException: "Wrong user name or password.",
  UserNotFoundException: "Wrong user name or password.",
  PasswordResetRequiredException: "Your password must be reset by an administrator.",
  UserNotConfirmedException: "This user is not confirmed.",
  InvalidPasswordException: "That password does not meet the password policy.",
  CodeMismatchException: "That code is not right; try the next one.",
  ExpiredCodeException: "That code has expired; sign in again.",
  TooManyRequestsException: "Too many attempts; wait a minute.",
  LimitExceededException: "Too many attempts; wait a minute.",
};

export class CognitoAuthenticator implements Authenticator {
  readonly #endpoint: string;
  readonly #clientId: string;

  /** `endpoint`: `https://cognito-idp.<region>.amazonaws.com/` in AWS, cognito-local's URL locally. */
  constructor(options: { endpoint: string; clientId: string }) {
    this.#endpoint = options.endpoint;
    this.#clientId = options.clientId;
  }

  signIn(username: string, password: string): Promise<AuthResult> {
    return this.#auth("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: this.#clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
  }

  newPassword(username: string, newPassword: string, session: string): Promise<AuthResult> {
    return this.#auth("RespondToAuthChallenge", {
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      ClientId: this.#clientId,
      Session: session,
      ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
    });
  }

  mfaCode(username: string, code: string, session: string): Promise<AuthResult> {
    return this.#auth("RespondToAuthChallenge", {
      ChallengeName: "SOFTWARE_TOKEN_MFA",
      ClientId: this.#clientId,
      Session: session,
      ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code },
    });
  }

  async refresh(refreshToken: string): Promise<AuthTokens | undefined> {
    const result = await this.#auth("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: this.#clientId,
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    return result.kind === "signed-in" ? result.tokens : undefined;
  }

  async revoke(refreshToken: string): Promise<void> {
    await this.#send("RevokeToken", { ClientId: this.#clientId, Token: refreshToken });
  }

  async #send(operation: string, body: Record<string, unknown>): Promise<void> {
    const response = await fetch(this.#endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`Cognito ${operation} failed: HTTP ${response.status}`);
  }

  async #auth(operation: string, body: Record<string, unknown>): Promise<AuthResult> {
    const response = await fetch(this.#endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const type =
        String(data.__type ?? "")
          .split("#")
          .pop() ?? "";
      // cognito-local answers a wrong password with InvalidPasswordException; Cognito with
      // NotAuthorizedException. On sign-in both mean the same to the person.
      if (operation === "InitiateAuth" && type === "InvalidPasswordException") {
        return { kind: "failed", reason: FAILURES.NotAuthorizedException ?? "" };
      }
      if (FAILURES[type]) return { kind: "failed", reason: FAILURES[type] };
      throw new Error(`Cognito ${operation} failed: ${type || `HTTP ${response.status}`}`);
    }
    const result = data.AuthenticationResult as Record<string, unknown> | undefined;
    if (result && typeof result.AccessToken === "string") {
      return {
        kind: "signed-in",
        tokens: {
          accessToken: result.AccessToken,
          refreshToken: typeof result.RefreshToken === "string" ? result.RefreshToken : undefined,
          expiresIn: typeof result.ExpiresIn === "number" ? result.ExpiresIn : 3600,
        },
      };
    }
    const challenge = data.ChallengeName;
    if (
      (challenge === "NEW_PASSWORD_REQUIRED" || challenge === "SOFTWARE_TOKEN_MFA") &&
      typeof data.Session === "string"
    ) {
      return { kind: "challenge", challenge, session: data.Session };
    }
    return {
      kind: "failed",
      reason: `This sign-in needs a step the dashboard does not offer (${String(challenge)}); ask an administrator.`,
    };
  }
}
