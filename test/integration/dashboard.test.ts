import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { DynamoDbMonitorDirectory } from "#adapters/monitor-directory.ts";
import { signAckToken } from "#core/ack-link.ts";
import { directoryShardOf } from "#core/directory.ts";
import { TickProcessor } from "#core/tick.ts";
import { cognitoCall, createUserWithTemporaryPassword } from "../../local/cognito.ts";
import { createTickQueues } from "../../local/resources.ts";
import { type SqsServer, startSqs } from "../../local/servers.ts";
import { type LocalWeb, startLocalWeb } from "../../local/web.ts";
import { freshTable, localDynamo, localSqs, putMonitorConfig } from "../support/aws.ts";
import { RecordingNotifier } from "../support/memory-adapters.ts";
import { totp } from "../support/totp.ts";

/**
 * The dashboard over real HTTP on 127.0.0.1: DynamoDB Local, fauxqs, cognito-local, the same web
 * handler as the Lambda. Sign-in (and its challenges), sessions, CSRF and Origin checks, escaping
 * and CSP, ack / unack / pause / resume / run now, and the signed ack link's GET and POST.
 */

const { client, doc } = localDynamo();
let tableName: string;
let sqsServer: SqsServer;
let queueUrl: string;
let web: LocalWeb;
let origin: string;
const outcomes: Record<string, boolean[]> = {};

function processor() {
  return new TickProcessor({
    store: new DynamoMonitorStore(tableName, createDocumentClient(client)),
    notifier: new RecordingNotifier(),
    findCheck: (name) =>
      name === "scripted"
        ? {
            name,
            description: "scripted",
            async run({ monitorId }) {
              const isOk = outcomes[monitorId]?.shift() ?? true;
              return { isOk, message: isOk ? "fine" : `${monitorId} feed missing <b>since 06:00</b>` };
            },
          }
        : undefined,
  });
}

async function tick(monitorId: string, isOk: boolean) {
  outcomes[monitorId] = [isOk];
  await processor().process(JSON.stringify({ monitorId, scheduledTime: new Date().toISOString() }));
}

async function state(monitorId: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record: "state" } }),
  );
  return Item;
}

/** A cookie jar of one browser. */
class Browser {
  readonly jar = new Map<string, string>();
  async request(
    path: string,
    init: { method?: string; form?: Record<string, string>; origin?: string | null } = {},
  ) {
    const headers: Record<string, string> = {};
    if (this.jar.size > 0)
      headers.cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join("; ");
    if (init.form) headers["content-type"] = "application/x-www-form-urlencoded";
    if (init.method === "POST" && init.origin !== null) headers.origin = init.origin ?? origin;
    const response = await fetch(new URL(path, web.url), {
      method: init.method ?? "GET",
      headers,
      redirect: "manual",
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const index = pair.indexOf("=");
      const value = pair.slice(index + 1);
      if (/Max-Age=0/.test(line)) this.jar.delete(pair.slice(0, index));
      else this.jar.set(pair.slice(0, index), value);
    }
    return { response, body: await response.text() };
  }
  async signIn(username = web.cognito.username, password = web.cognito.password) {
    return this.request("/signin", { method: "POST", form: { step: "password", username, password } });
  }
  csrf() {
    return this.jar.get("wk_csrf") ?? "";
  }
}

beforeAll(async () => {
  ({ tableName } = await freshTable("dashboard"));
  sqsServer = await startSqs();
  const sqs = localSqs(sqsServer.endpoint);
  ({ queueUrl } = await createTickQueues(sqs, `dash-${Date.now()}`));
  web = await startLocalWeb({ doc, sqs, tableName, queueUrl });
  origin = new URL(web.url).origin;
  await putMonitorConfig(tableName, "feed", {
    name: "Compass feed",
    check: "scripted",
    requiredConsecutiveOks: 1,
    schedule: "rate(5 minutes)",
    peopleToNotify: ["ops@example.com"],
  });
  await putMonitorConfig(tableName, "xss", {
    name: "<script>alert(1)</script>",
    check: "scripted",
    schedule: "rate(5 minutes)",
    peopleToNotify: ["ops@example.com"],
  });
  await tick("feed", false);
  await tick("xss", false);
}, 120_000);

afterAll(async () => {
  await web?.stop();
  await sqsServer?.stop();
  client.destroy();
});

describe("sign-in and sessions", () => {
  it("sends a visitor without a session to the sign-in form, and refuses a wrong password", async () => {
    const browser = new Browser();
    const { response } = await browser.request("/monitors");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/signin");
    const wrong = await browser.signIn(web.cognito.username, "Not-the-password-1!");
    expect(wrong.response.status).toBe(401);
    expect(wrong.body).toContain("Wrong user name or password.");
    expect(wrong.body).not.toContain("Not-the-password-1!");
    expect(browser.jar.size).toBe(0);
  });

  it("signs in through Cognito with HttpOnly SameSite=Strict cookies, then shows the overview", async () => {
    const browser = new Browser();
    const { response } = await browser.signIn();
    expect(response.status).toBe(303);
    const cookies = response.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThanOrEqual(3);
    for (const line of cookies) expect(line).toMatch(/HttpOnly; SameSite=Strict/);
    const overview = await browser.request("/monitors");
    expect(overview.response.status).toBe(200);
    expect(overview.body).toContain("Compass feed");
    expect(overview.body).toContain(`<input type="hidden" name="csrf" value="${browser.csrf()}">`);
  });

  it("signs out: clears the cookies and revokes the refresh token", async () => {
    const browser = new Browser();
    await browser.signIn();
    const stolen = browser.jar.get("wk_rt") ?? "";
    const out = await browser.request("/signout", { method: "POST", form: { csrf: browser.csrf() } });
    expect(out.response.status).toBe(303);
    expect(browser.jar.size).toBe(0);
    // The refresh token alone (say, copied before the sign-out) no longer opens a session.
    const thief = new Browser();
    thief.jar.set("wk_rt", stolen);
    expect((await thief.request("/monitors")).response.headers.get("location")).toBe("/signin");
  });

  it("refuses a forged access token cookie (aws-jwt-verify checks the signature)", async () => {
    const browser = new Browser();
    await browser.signIn();
    const [header, payload] = (browser.jar.get("wk_at") ?? "").split(".");
    browser.jar.set("wk_at", `${header}.${payload}.c2lnbmF0dXJl`);
    browser.jar.delete("wk_rt");
    const { response } = await browser.request("/monitors");
    expect(response.status).toBe(303);
  });

  it("asks a new user for a new password, then signs them in", async () => {
    await createUserWithTemporaryPassword(web.cognito, "newbie", "Temporary-Pass-1!");
    const browser = new Browser();
    const first = await browser.signIn("newbie", "Temporary-Pass-1!");
    expect(first.response.status).toBe(200);
    expect(first.body).toContain('name="newPassword"');
    const session = /name="session" value="([^"]+)"/.exec(first.body)?.[1] ?? "";
    const second = await browser.request("/signin", {
      method: "POST",
      form: { step: "new-password", username: "newbie", session, newPassword: "A-much-better-pass-2!" },
    });
    expect(second.response.status).toBe(303);
    expect((await browser.request("/monitors")).response.status).toBe(200);
  });

  it("asks a user with TOTP MFA for the code, refuses a wrong one, and signs them in with the right one", async () => {
    const { endpoint, userPoolId, clientId } = web.cognito;
    const password = "Totp-user-pass-3!";
    await createUserWithTemporaryPassword(web.cognito, "totp-user", password);
    await cognitoCall(endpoint, "AdminSetUserPassword", {
      UserPoolId: userPoolId,
      Username: "totp-user",
      Password: password,
      Permanent: true,
    });
    // Enrolment, as docs/deploy.md tells a user to do it with the AWS CLI.
    const auth = (await cognitoCall(endpoint, "InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: clientId,
      AuthParameters: { USERNAME: "totp-user", PASSWORD: password },
    })) as { AuthenticationResult: { AccessToken: string } };
    const AccessToken = auth.AuthenticationResult.AccessToken;
    const { SecretCode } = (await cognitoCall(endpoint, "AssociateSoftwareToken", { AccessToken })) as {
      SecretCode: string;
    };
    await cognitoCall(endpoint, "VerifySoftwareToken", { AccessToken, UserCode: totp(SecretCode) });
    await cognitoCall(endpoint, "SetUserMFAPreference", {
      AccessToken,
      SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
    });

    const browser = new Browser();
    const first = await browser.signIn("totp-user", password);
    expect(first.response.status).toBe(200);
    expect(first.body).toContain('name="code"');
    expect(browser.jar.size).toBe(0);
    const session = /name="session" value="([^"]+)"/.exec(first.body)?.[1] ?? "";
    const wrongCode = String((Number(totp(SecretCode)) + 500_000) % 1_000_000).padStart(6, "0");
    const wrong = await browser.request("/signin", {
      method: "POST",
      form: { step: "mfa", username: "totp-user", session, code: wrongCode },
    });
    expect(wrong.response.status).toBe(401);
    expect(wrong.body).toContain("That code is not right");
    const right = await browser.request("/signin", {
      method: "POST",
      form: { step: "mfa", username: "totp-user", session, code: totp(SecretCode) },
    });
    expect(right.response.status).toBe(303);
    expect((await browser.request("/monitors")).response.status).toBe(200);
  });
});

describe("pages", () => {
  it("escapes every value and sends a strict CSP with no inline script or style", async () => {
    const browser = new Browser();
    await browser.signIn();
    for (const path of ["/monitors", "/monitors/xss"]) {
      const { response, body } = await browser.request(path);
      expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(response.headers.get("content-security-policy")).not.toContain("unsafe-inline");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(body).not.toContain("<script>alert(1)</script>");
      expect(body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(body).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(body).not.toMatch(/\sstyle=|<style/);
      expect(body).not.toContain("<b>since 06:00</b>");
    }
  });

  it("answers 404 for an unknown monitor or a malformed path, without echoing markup", async () => {
    const browser = new Browser();
    await browser.signIn();
    const unknown = await browser.request("/monitors/%3Cb%3Enope");
    expect(unknown.response.status).toBe(404);
    expect(unknown.body).toContain("&lt;b&gt;nope");
    expect((await browser.request("/monitors/%E0%A4%A")).response.status).toBe(404);
  });

  it("shows each run's decision and why mail was or was not sent", async () => {
    const browser = new Browser();
    await browser.signIn();
    const { body } = await browser.request("/monitors/feed");
    expect(body).toContain("FAIL");
    expect(body).toMatch(/ALERT (sent|decided)/);
  });

  it("lists open incidents across monitors on the incidents page", async () => {
    const browser = new Browser();
    await browser.signIn();
    const { response, body } = await browser.request("/incidents");
    expect(response.status).toBe(200);
    expect(body).toContain('<a href="/monitors/feed">feed</a>');
    expect(body).toContain('<a href="/monitors/xss">xss</a>');
    expect(body).toContain("1 alert");
  });

  it("returns sparklines for visible rows only on request", async () => {
    const browser = new Browser();
    await browser.signIn();
    const { response, body } = await browser.request("/api/sparklines?ids=feed,xss");
    expect(response.status).toBe(200);
    expect(JSON.parse(body)).toEqual({ feed: ["fail"], xss: ["fail"] });
    expect((await new Browser().request("/api/sparklines?ids=feed")).response.status).toBe(401);
  });
});

describe("actions", () => {
  it("refuses a POST without the session's CSRF token or from another origin", async () => {
    const browser = new Browser();
    await browser.signIn();
    const noToken = await browser.request("/monitors/feed/ack", { method: "POST", form: { csrf: "nope" } });
    expect(noToken.response.status).toBe(403);
    const elsewhere = await browser.request("/monitors/feed/ack", {
      method: "POST",
      form: { csrf: browser.csrf() },
      origin: "https://evil.example",
    });
    expect(elsewhere.response.status).toBe(403);
    const noOrigin = await browser.request("/monitors/feed/ack", {
      method: "POST",
      form: { csrf: browser.csrf() },
      origin: null,
    });
    expect(noOrigin.response.status).toBe(403);
    expect((await state("feed"))?.ack).toBeUndefined();
  });

  it("acks and unacks as the signed-in user, pauses, resumes and runs now", async () => {
    const browser = new Browser();
    await browser.signIn();
    const form = { csrf: browser.csrf() };
    const ack = await browser.request("/monitors/feed/ack", {
      method: "POST",
      form: { ...form, note: "on it" },
    });
    expect(ack.response.status).toBe(303);
    expect((await state("feed"))?.ack).toMatchObject({ by: web.cognito.username, note: "on it" });
    expect((await browser.request("/monitors")).body).toMatch(/Compass feed[\s\S]*?acked[\s\S]*?oncall/);
    await browser.request("/monitors/feed/unack", { method: "POST", form });
    expect((await state("feed"))?.ack).toBeUndefined();

    const pause = await browser.request("/monitors/feed/pause", { method: "POST", form });
    expect(pause.response.headers.get("location")).toBe("/monitors/feed?done=paused");
    expect((await browser.request("/monitors/feed?done=paused")).body).toContain(
      '<p class="notice" role="status">Paused: no checks, no mail.</p>',
    );
    // The banner says only what an action's code names: a link cannot put its own words there.
    const phishing = await browser.request(
      `/monitors/feed?done=${encodeURIComponent("Call IT on +1 555 0100 and read them your MFA code.")}`,
    );
    expect(phishing.response.status).toBe(200);
    expect(phishing.body).not.toContain("555 0100");
    expect(phishing.body).not.toContain('class="notice"');
    const { Item: paused } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId: "feed", record: "config" } }),
    );
    expect(paused?.isActive).toBe(false);
    await browser.request("/monitors/feed/resume", { method: "POST", form });
    const run = await browser.request("/monitors/feed/run", { method: "POST", form });
    expect(run.response.status).toBe(303);
    const { Messages } = await localSqs(sqsServer.endpoint).send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((message) => JSON.parse(message.Body ?? "{}"))).toEqual([
      expect.objectContaining({ monitorId: "feed", reason: "manual" }),
    ]);
  });
});

describe("ack links", () => {
  const token = async (monitorId: string, expiresAt = Date.now() + 3_600_000) => {
    const incident = String(((await state(monitorId))?.incident as { start?: string } | undefined)?.start);
    return signAckToken({ monitorId, incident, recipient: "ops@example.com", expiresAt }, web.linkKey);
  };

  it("GET shows a confirmation and changes nothing; POST acks as the recipient", async () => {
    const t = await token("xss");
    const anonymous = new Browser();
    const page = await anonymous.request(`/ack?t=${t}`);
    expect(page.response.status).toBe(200);
    expect(page.body).toContain("ops@example.com");
    expect(page.body).toContain('<form method="post" action="/ack">');
    expect((await state("xss"))?.ack).toBeUndefined();
    const done = await anonymous.request("/ack", { method: "POST", form: { t } });
    expect(done.response.status).toBe(200);
    expect((await state("xss"))?.ack).toMatchObject({ by: "ops@example.com" });
  });

  it("refuses an expired, tampered or ended-incident link without changing anything", async () => {
    const anonymous = new Browser();
    const expired = await token("feed", Date.now() - 1);
    expect((await anonymous.request(`/ack?t=${expired}`)).response.status).toBe(410);
    expect((await anonymous.request("/ack", { method: "POST", form: { t: expired } })).response.status).toBe(
      410,
    );
    const tampered = `${await token("feed")}x`;
    expect((await anonymous.request(`/ack?t=${tampered}`)).response.status).toBe(400);
    const old = await token("feed");
    await tick("feed", true); // recovers: the incident the link was for is over
    const page = await anonymous.request(`/ack?t=${old}`);
    expect(page.body).toContain("This incident is over");
    expect((await anonymous.request("/ack", { method: "POST", form: { t: old } })).response.status).toBe(409);
    expect((await state("feed"))?.ack).toBeUndefined();
  });
});

describe("the overview over the monitor directory", () => {
  it("shows the monitors the directory names once it is reconciled, escaped as before", async () => {
    const browser = new Browser();
    await browser.signIn();
    const scanned = (await browser.request("/monitors")).body;
    const directory = new DynamoDbMonitorDirectory(tableName, client);
    // Only feed's entry: a page that still showed xss would have come from the Scan.
    await directory.ensure("feed", directoryShardOf("feed"));
    await directory.markReconciled(new Date());
    const partial = (await browser.request("/monitors")).body;
    expect(scanned).toContain("Compass feed");
    expect(scanned).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(partial).toContain("Compass feed");
    expect(partial).not.toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    await directory.ensure("xss", directoryShardOf("xss"));
    const { response, body } = await browser.request("/monitors");
    expect(response.status).toBe(200);
    expect(body).toContain("Compass feed");
    expect(body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(body).not.toContain("<script>alert(1)</script>");
  });
});
