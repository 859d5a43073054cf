import { describe, expect, it } from "vitest";
import type { LogAttributes, Logger } from "#core/ports.ts";
import { redactingLogger } from "#core/redacting-logger.ts";
import { redactSecrets, redactText } from "#core/text.ts";

describe("redactText", () => {
  it("removes URL credentials, user and password alike", () => {
    expect(redactText("GET https://alice:hunter2@api.example.org/health failed")).toBe(
      "GET https://[redacted]@api.example.org/health failed",
    );
    expect(redactText("clone https://ghp_abc123@github.com/o/r.git")).toBe(
      "clone https://[redacted]@github.com/o/r.git",
    );
    expect(redactText("postgres://u:p@db:5432/x and mail ops@example.org")).toBe(
      "postgres://[redacted]@db:5432/x and mail ops@example.org",
    );
  });

  it.each([
    "token",
    "access_token",
    "api_key",
    "apikey",
    "apiKey",
    "key",
    "sig",
    "signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "password",
    "secret",
    "client_secret",
    "auth",
    "code",
  ])("removes the value of the query parameter %s, keeping the others", (name) => {
    expect(redactText(`https://h.example/p?page=2&${name}=s3cr3t&sort=asc#frag`)).toBe(
      `https://h.example/p?page=2&${name}=[redacted]&sort=asc#frag`,
    );
    expect(redactText(`error at /cb?${name}=s3cr3t (401)`)).toBe(`error at /cb?${name}=[redacted] (401)`);
  });

  it("removes Bearer and Basic credentials quoted in a text", () => {
    expect(redactText("sent Authorization: Bearer eyJhbGciOi.x.y to it")).toBe(
      "sent Authorization: Bearer [redacted] to it",
    );
    expect(redactText("Basic dXNlcjpwYXNz")).toBe("Basic [redacted]");
  });

  it("leaves ordinary text alone", () => {
    const text = "GET https://api.example.org/health?page=2 returned 200 in 12 ms";
    expect(redactText(text)).toBe(text);
  });
});

describe("redactSecrets", () => {
  it("redacts at every depth, however deep (the old limit passed depth 9 through)", () => {
    let deep: Record<string, unknown> = { password: "p", url: "https://u:p@h/x?token=t" };
    for (let level = 0; level < 20; level++) deep = { level: deep };
    const text = JSON.stringify(redactSecrets(deep));
    expect(text).not.toMatch(/"p"|u:p@|token=t/);
    expect(text).toContain('"password":"[redacted]"');
    expect(text).toContain("https://[redacted]@h/x?token=[redacted]");
  });

  it("replaces nesting beyond its limit and cycles instead of passing them through", () => {
    let deep: unknown = "https://u:p@h";
    for (let level = 0; level < 100; level++) deep = [deep];
    expect(JSON.stringify(redactSecrets(deep))).not.toContain("u:p@");
    const cyclic: Record<string, unknown> = { name: "x" };
    cyclic.self = cyclic;
    expect(redactSecrets(cyclic)).toEqual({ name: "x", self: "[circular]" });
  });

  it("redacts strings in arrays, sets and maps, and errors' messages and stacks", () => {
    const error = Object.assign(new Error("fetch https://a:b@h?api_key=k failed"), { code: "E", token: "t" });
    const redacted = redactSecrets({
      list: ["https://h?sig=abc", new Set(["https://x:y@h"])],
      map: new Map([["Authorization", "Bearer abcdef"]]),
      error,
    }) as { list: unknown[]; map: unknown; error: Error & { code: string; token: string } };
    expect(redacted.list).toEqual(["https://h?sig=[redacted]", ["https://[redacted]@h"]]);
    expect(redacted.map).toEqual({ Authorization: "[redacted]" });
    expect(redacted.error).toBeInstanceOf(Error);
    expect(redacted.error.message).toBe("fetch https://[redacted]@h?api_key=[redacted] failed");
    expect(redacted.error.stack).not.toContain("a:b@");
    expect(redacted.error).toMatchObject({ code: "E", token: "[redacted]" });
  });

  it("keeps secret references: they name a secret, they do not hold one", () => {
    const ref = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-AbCdEf#token";
    expect(redactSecrets({ headers: { Authorization: { secretRef: ref }, Cookie: "c" } })).toEqual({
      headers: { Authorization: { secretRef: ref }, Cookie: "[redacted]" },
    });
  });

  it("applies a mask (resolved secret values) to every string", () => {
    expect(
      redactSecrets({ a: ["value hunter2 here"] }, { mask: (text) => text.replace("hunter2", "[secret]") }),
    ).toEqual({ a: ["value [secret] here"] });
  });
});

describe("redactingLogger", () => {
  it("redacts the message and every attribute before the inner logger sees them", () => {
    const lines: Array<{ level: string; message: string; extra: LogAttributes[] }> = [];
    const record =
      (level: string) =>
      (message: string, ...extra: LogAttributes[]) =>
        void lines.push({ level, message, extra });
    const inner: Logger = {
      debug: record("debug"),
      info: record("info"),
      warn: record("warn"),
      error: record("error"),
    };
    const logger = redactingLogger(inner, { mask: (text) => text.split("hunter2").join("[secret]") });
    logger.info("calling https://u:hunter2@h?token=abc", { nested: [{ header: "hunter2" }] });
    logger.error("failed", { error: new Error("hunter2 rejected") });
    expect(lines[0]).toEqual({
      level: "info",
      message: "calling https://[redacted]@h?token=[redacted]",
      extra: [{ nested: [{ header: "[secret]" }] }],
    });
    expect(lines[1]?.level).toBe("error");
    expect((lines[1]?.extra[0]?.error as Error | undefined)?.message).toBe("[secret] rejected");
    expect(JSON.stringify(lines)).not.toContain("hunter2");
  });
});
