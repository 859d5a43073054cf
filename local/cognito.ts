import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, LOOPBACK, LocalServerError } from "./servers.ts";

/**
 * cognito-local (npm) as the dashboard's user pool on this machine: started as a child process on
 * a free loopback port with its data in a temporary directory, then given a pool shaped like the
 * stack's (admin-created users only, optional TOTP MFA, the same password policy), an app client
 * with USER_PASSWORD_AUTH and refresh, and one signed-in-able user. The dashboard signs in through
 * it with the same calls and token checks as in AWS (no bypass).
 */

export interface LocalCognito {
  /** The Cognito API endpoint (`http://127.0.0.1:<port>/`). */
  endpoint: string;
  userPoolId: string;
  clientId: string;
  /** The issuer of its tokens (`http://127.0.0.1:<port>/<poolId>`). */
  issuer: string;
  /** The local user's credentials (printed by `npm start`; never a real secret). */
  username: string;
  password: string;
  stop(): Promise<void>;
}

/** The stack's password policy (lib/dashboard.ts). */
export const PASSWORD_POLICY = {
  MinimumLength: 12,
  RequireUppercase: true,
  RequireLowercase: true,
  RequireNumbers: true,
  RequireSymbols: true,
  TemporaryPasswordValidityDays: 3,
};

export async function cognitoCall(endpoint: string, operation: string, body: Record<string, unknown>) {
  return call(endpoint, operation, body);
}

async function call(endpoint: string, operation: string, body: Record<string, unknown>) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `AWSCognitoIdentityProviderService.${operation}`,
    },
    body: JSON.stringify(body),
  });
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new LocalServerError(`cognito-local ${operation}: ${JSON.stringify(data)}`);
  return data;
}

export async function startCognitoLocal(
  options: { port?: number; username?: string; password?: string } = {},
): Promise<LocalCognito> {
  const port = options.port || (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "watchkeeper-cognito-"));
  // Pools sign in by user name, as the stack's (cognito-local's default is by email).
  mkdirSync(join(dir, ".cognito"), { recursive: true });
  writeFileSync(
    join(dir, ".cognito", "config.json"),
    JSON.stringify({ UserPoolDefaults: { UsernameAttributes: [] } }),
  );
  const script = createRequire(import.meta.url).resolve("cognito-local/lib/bin/start.js");
  const child: ChildProcess = spawn(process.execPath, [script], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), HOST: LOOPBACK, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const endpoint = `http://${LOOPBACK}:${port}/`;
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Cognito Local running on")) {
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) =>
      reject(new LocalServerError(`cognito-local exited (${code}) before listening: ${output.slice(-500)}`)),
    );
  });
  const stop = async () => {
    if (child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pool = (await call(endpoint, "CreateUserPool", {
      PoolName: "watchkeeper-local",
      MfaConfiguration: "OPTIONAL",
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Policies: { PasswordPolicy: PASSWORD_POLICY },
    })) as { UserPool: { Id: string } };
    const userPoolId = pool.UserPool.Id;
    const client = (await call(endpoint, "CreateUserPoolClient", {
      UserPoolId: userPoolId,
      ClientName: "dashboard",
      ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    })) as { UserPoolClient: { ClientId: string } };
    const username = options.username ?? "oncall";
    // A fresh random password per start: it is printed on the console, never reused.
    const password = options.password ?? `Wk-${randomBytes(9).toString("base64url")}1a!`;
    await call(endpoint, "AdminCreateUser", {
      UserPoolId: userPoolId,
      Username: username,
      TemporaryPassword: password,
      MessageAction: "SUPPRESS",
    });
    await call(endpoint, "AdminSetUserPassword", {
      UserPoolId: userPoolId,
      Username: username,
      Password: password,
      Permanent: true,
    });
    return {
      endpoint,
      userPoolId,
      clientId: client.UserPoolClient.ClientId,
      issuer: `http://${LOOPBACK}:${port}/${userPoolId}`,
      username,
      password,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Creates another user that must choose a password at first sign-in (tests of that challenge). */
export async function createUserWithTemporaryPassword(
  cognito: Pick<LocalCognito, "endpoint" | "userPoolId">,
  username: string,
  temporaryPassword: string,
): Promise<void> {
  await call(cognito.endpoint, "AdminCreateUser", {
    UserPoolId: cognito.userPoolId,
    Username: username,
    TemporaryPassword: temporaryPassword,
    MessageAction: "SUPPRESS",
  });
}
