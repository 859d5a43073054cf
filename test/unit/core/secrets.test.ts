import { describe, expect, it } from "vitest";
import {
  maskSecretValues,
  parseSecretRef,
  SECRET_CACHE_TTL_MS,
  SecretResolutionError,
  SecretResolver,
  secretRefProblems,
  withSecretPlaceholders,
} from "#core/secrets.ts";
import { HttpParamsSchema } from "#monitors/http.ts";
import { InvalidParamsError, validateParamsBeforeResolution } from "#monitors/support/params.ts";
import { MemorySecretSource } from "../../support/memory-adapters.ts";

const SM = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:api/partner-AbCdEf";
const SSM = "arn:aws:ssm:us-east-2:123456789012:parameter/watchkeeper/api-token";

describe("parseSecretRef", () => {
  it("reads Secrets Manager and SSM parameter ARNs, with an optional #jsonKey", () => {
    expect(parseSecretRef(SM)).toEqual({ ref: SM, service: "secretsmanager", arn: SM, region: "eu-west-1" });
    expect(parseSecretRef(`${SM}#token`)).toEqual({
      ref: `${SM}#token`,
      service: "secretsmanager",
      arn: SM,
      region: "eu-west-1",
      jsonKey: "token",
    });
    expect(parseSecretRef(SSM)).toMatchObject({ service: "ssm", arn: SSM, region: "us-east-2" });
    expect(parseSecretRef(SM.replace("arn:aws:", "arn:aws-cn:"))).toMatchObject({
      service: "secretsmanager",
    });
  });

  it.each([
    ["a bare name", "api/partner"],
    ["another service", "arn:aws:s3:::bucket/key"],
    ["no account", "arn:aws:secretsmanager:eu-west-1::secret:x"],
    ["an empty #key", `${SM}#`],
    ["a #key with a control character", `${SM}#a\nb`],
    ["an SSM ARN without parameter/", "arn:aws:ssm:us-east-2:123456789012:document/x"],
    ["a number", 42],
  ])("refuses %s", (_label, ref) => {
    expect(parseSecretRef(ref)).toBeUndefined();
  });
});

describe("secretRefProblems", () => {
  it("names malformed references at any depth, quoting none of their siblings", () => {
    expect(
      secretRefProblems({
        url: "https://example.org",
        headers: { Authorization: { secretRef: "nope" }, "x-api-key": { secretRef: SM, extra: 1 } },
        list: [{ inner: { secretRef: SSM } }],
      }),
    ).toEqual([
      {
        path: "params.headers.Authorization.secretRef",
        message: expect.stringMatching(/^must be a Secrets Manager/),
      },
      { path: 'params.headers["x-api-key"]', message: 'is a secret reference, which holds only "secretRef"' },
    ]);
  });
});

describe("validation before resolution (CLI add/edit/import)", () => {
  const validate = (params: unknown) => validateParamsBeforeResolution("http", HttpParamsSchema, params);
  const problems = (params: unknown) => {
    try {
      validate(params);
      return [];
    } catch (error) {
      if (!(error instanceof InvalidParamsError)) throw error;
      return error.problems;
    }
  };

  it("accepts a reference wherever a string is expected, even a formatted one", () => {
    expect(
      problems({
        url: { secretRef: `${SM}#url` },
        headers: { Authorization: { secretRef: `${SM}#authorization` }, "x-api-key": { secretRef: SSM } },
        bodyIncludes: { secretRef: SSM },
      }),
    ).toEqual([]);
    expect(withSecretPlaceholders({ a: [{ secretRef: SSM }] })).toEqual({ a: ["secret-placeholder"] });
  });

  it("refuses a reference where no string can go, a malformed one, and keeps other problems", () => {
    expect(problems({ url: "https://example.org", maxLatencyMs: { secretRef: SSM } })).toEqual([
      "params.maxLatencyMs must be a positive number of milliseconds",
    ]);
    expect(
      problems({ url: "https://example.org", headers: { Authorization: { secretRef: "token" } } }),
    ).toEqual([
      expect.stringMatching(
        /^params\.headers\.Authorization\.secretRef must be a Secrets Manager secret ARN/,
      ),
    ]);
    expect(problems({ url: { secretRef: SSM }, method: "POST" })).toEqual([
      "params.method must be GET or HEAD",
    ]);
  });

  it("refuses the same params without references only for the reason the schema gives", () => {
    expect(problems({ url: "secret-placeholder" })).toEqual([
      "params.url must be an http(s) URL (e.g. https://example.com/health)",
    ]);
  });
});

describe("SecretResolver", () => {
  it("replaces references at any depth by their values, picking #jsonKey from a JSON secret", async () => {
    const source = new MemorySecretSource({
      [SM]: JSON.stringify({ token: "tok-123", port: 8443 }),
      [SSM]: "ssm-value",
    });
    const resolved = await new SecretResolver(source).resolve({
      url: "https://example.org",
      headers: { Authorization: { secretRef: `${SM}#token` }, "x-b": { secretRef: SSM } },
      list: [{ deep: [{ secretRef: `${SM}#port` }] }],
    });
    expect(resolved.params).toEqual({
      url: "https://example.org",
      headers: { Authorization: "tok-123", "x-b": "ssm-value" },
      list: [{ deep: ["8443"] }],
    });
    expect(resolved.values.sort()).toEqual(["8443", "ssm-value", "tok-123"]);
    // Two keys of one secret: one read.
    expect(source.reads.map((read) => read.arn).sort()).toEqual([SM, SSM]);
    expect(source.reads.find((read) => read.arn === SSM)).toEqual({
      service: "ssm",
      arn: SSM,
      region: "us-east-2",
    });
  });

  it("caches a secret for the TTL, then reads it again (a rotation shows within the TTL)", async () => {
    const source = new MemorySecretSource({ [SSM]: "v1" });
    let now = 1_000_000;
    const resolver = new SecretResolver(source, { now: () => now });
    const params = { token: { secretRef: SSM } };
    expect((await resolver.resolve(params)).params).toEqual({ token: "v1" });
    source.values.set(SSM, "v2");
    now += SECRET_CACHE_TTL_MS - 1;
    expect((await resolver.resolve(params)).params).toEqual({ token: "v1" });
    expect(source.reads).toHaveLength(1);
    now += 1;
    expect((await resolver.resolve(params)).params).toEqual({ token: "v2" });
    expect(source.reads).toHaveLength(2);
  });

  it("shares one read between concurrent resolutions", async () => {
    const source = new MemorySecretSource({ [SSM]: "shared" });
    source.hold();
    const resolver = new SecretResolver(source);
    const both = Promise.all([
      resolver.resolve({ a: { secretRef: SSM } }),
      resolver.resolve({ b: { secretRef: SSM } }),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    source.release();
    const [first, second] = await both;
    expect(first.params).toEqual({ a: "shared" });
    expect(second.params).toEqual({ b: "shared" });
    expect(source.reads).toHaveLength(1);
  });

  it("replaces a read that has not settled within the TTL instead of waiting on it forever", async () => {
    const source = new MemorySecretSource({ [SSM]: "v" });
    let now = 0;
    const resolver = new SecretResolver(source, { now: () => now });
    source.hold();
    const stuck = resolver.resolve({ a: { secretRef: SSM } });
    now += SECRET_CACHE_TTL_MS;
    const fresh = resolver.resolve({ a: { secretRef: SSM } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.reads).toHaveLength(2);
    source.release();
    expect((await Promise.all([stuck, fresh])).map((resolved) => resolved.params)).toEqual([
      { a: "v" },
      { a: "v" },
    ]);
  });

  it("does not cache a failure: the secret created since is read on the next resolution", async () => {
    const source = new MemorySecretSource();
    const resolver = new SecretResolver(source);
    await expect(resolver.resolve({ a: { secretRef: SSM } })).rejects.toThrow(
      `secret ${SSM} could not be read: no such secret in us-east-2`,
    );
    source.values.set(SSM, "now there");
    expect((await resolver.resolve({ a: { secretRef: SSM } })).params).toEqual({ a: "now there" });
  });

  it.each([
    ["a missing key", JSON.stringify({ other: "hidden-value" }), `${SM}#token`, /has no key "token"/],
    ["a secret that is not JSON", "plain-hidden-value", `${SM}#token`, /not a JSON object, so #token/],
    [
      "a key holding an object",
      JSON.stringify({ token: { hidden: "value" } }),
      `${SM}#token`,
      /holds no string/,
    ],
  ])("names the reference and never the value for %s", async (_label, value, ref, reason) => {
    const source = new MemorySecretSource({ [SM]: value });
    const error = await new SecretResolver(source)
      .resolve({ a: { secretRef: ref } })
      .catch((thrown) => thrown);
    expect(error).toBeInstanceOf(SecretResolutionError);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain(ref);
    expect(error.message).not.toContain("hidden");
  });

  it("gives up when the signal aborts, saying so", async () => {
    const source = new MemorySecretSource({ [SSM]: "late" });
    source.hold();
    const controller = new AbortController();
    const pending = new SecretResolver(source).resolve({ a: { secretRef: SSM } }, controller.signal);
    controller.abort(new Error("check timed out"));
    await expect(pending).rejects.toThrow(`secret ${SSM} could not be read: timed out`);
    source.release();
  });
});

describe("maskSecretValues", () => {
  it("masks the start of a secret that a check cut off with an ellipsis before the masking saw it", () => {
    const secret = `sk-live-${"7Hq2".repeat(30)}`;
    const cut = `expected TXT "${secret.slice(0, 80)}…", found "v=spf1"`;
    expect(maskSecretValues(cut, [secret])).toBe('expected TXT "[secret]", found "v=spf1"');
    // A short common start followed by an ellipsis is left alone.
    expect(maskSecretValues("GET https://api.e…", ["https://api.example.org/hook/T0"])).toBe(
      "GET https://api.e…",
    );
  });

  it("masks a secret URL in the forms the http check prints it (no query, no credentials, normalised)", () => {
    const cases: Array<[secret: string, printed: string]> = [
      ["http://h/hooks/T0SECRETPATH?x=1", "GET http://h/hooks/T0SECRETPATH?… returned 200"],
      ["http://user:pw@h/hooks/T1SECRET", "GET http://h/hooks/T1SECRET returned 200"],
      ["HTTP://H/hooks/T2SECRET", "GET http://h/hooks/T2SECRET returned 200"],
      ["http://h/hooks/T4 SECRET", "GET http://h/hooks/T4%20SECRET returned 200"],
    ];
    for (const [secret, printed] of cases) {
      const masked = maskSecretValues(printed, [secret]);
      expect(masked, secret).not.toMatch(/T\d%?2?0?\s?SECRET/);
      expect(masked, secret).toContain("[secret]");
    }
  });

  it("masks every form a check may echo: raw, URL-encoded, JSON-escaped, longest first", () => {
    const values = ["p@ss word/1", 'q"uote', "abc", "abcdef"];
    expect(
      maskSecretValues(
        'raw p@ss word/1, url p%40ss%20word%2F1, json {"v":"q\\"uote"}, abcdef and abc',
        values,
      ),
    ).toBe('raw [secret], url [secret], json {"v":"[secret]"}, [secret] and [secret]');
    expect(maskSecretValues("nothing here", [])).toBe("nothing here");
    expect(maskSecretValues("empty", [""])).toBe("empty");
  });
});
