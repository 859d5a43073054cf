import type { SecretLocation, SecretSource } from "./ports.ts";
import { SecretUnreadableError } from "./ports.ts";
import { describeThrown } from "./text.ts";

/**
 * Secret references in check params (docs/checks.md, "Secrets"). Any value anywhere in a monitor's
 * `params` may be `{"secretRef": "<ARN>[#jsonKey]"}` instead of the secret itself: the config item,
 * `show`, `export` and the history then hold the reference only. The orchestrator resolves the
 * references just before the check runs (SecretResolver, cached briefly) and replaces every
 * resolved value that a check echoes in its message, its errors or its logs with `[secret]`.
 *
 * Validation happens twice, by design: before resolution (the CLI's add/edit/import and the
 * orchestrator's config check) the check's schema sees a placeholder string where each reference
 * is, and only a wrong *type* at a reference's place counts (a secret is always a string), since its
 * format (a URL, a header value) cannot be known without reading it; after resolution the check
 * validates the real values itself, as it does for any params.
 */

export const SECRET_REF_KEY = "secretRef";
/** What a resolved value is replaced with in messages, errors and logs. */
export const SECRET_MASK = "[secret]";
/** Stands for a reference while a check's schema validates params before resolution. */
export const SECRET_PLACEHOLDER = "secret-placeholder";

/**
 * How long a resolved secret is reused (per orchestrator container). Five minutes, as AWS's own
 * Parameters and Secrets Lambda Extension defaults to (SECRETS_MANAGER_TTL=300): a rotated secret is
 * picked up within five minutes, and a one-minute monitor reads it at most 12 times an hour per
 * warm container instead of 60 ($0.05 per 10,000 Secrets Manager calls; SSM's standard throughput
 * of 40 GetParameter calls a second is shared by the whole account and region).
 */
export const SECRET_CACHE_TTL_MS = 5 * 60_000;
/** Distinct secrets kept at once; the oldest is dropped beyond it. */
export const SECRET_CACHE_MAX_ENTRIES = 500;

const PARTITION = "aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc";
/** A Secrets Manager secret ARN (the full one, with the six random characters the console shows). */
export const SECRETS_MANAGER_ARN = new RegExp(
  `^arn:(?:${PARTITION}):secretsmanager:([a-z0-9-]+):\\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`,
);
/** An SSM parameter ARN (`parameter/name` or `parameter/path/to/name`). */
export const SSM_PARAMETER_ARN = new RegExp(
  `^arn:(?:${PARTITION}):ssm:([a-z0-9-]+):\\d{12}:parameter/[A-Za-z0-9/_.-]+$`,
);

export interface SecretRef extends SecretLocation {
  /** The reference as written (`ARN` or `ARN#jsonKey`): what messages and logs name. */
  ref: string;
  /** Picks this key of a secret whose value is a JSON object. */
  jsonKey?: string;
}

export const SECRET_REF_FORMAT =
  "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>, optionally #jsonKey) or an SSM parameter ARN (arn:aws:ssm:<region>:<account>:parameter/<name>)";

/** The location a reference names, or undefined when it is not one. */
export function parseSecretRef(ref: unknown): SecretRef | undefined {
  if (typeof ref !== "string" || ref.length > 2048) return undefined;
  const hash = ref.indexOf("#");
  const arn = hash === -1 ? ref : ref.slice(0, hash);
  const jsonKey = hash === -1 ? undefined : ref.slice(hash + 1);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a key with control characters is refused.
  if (jsonKey !== undefined && (jsonKey.length === 0 || /[\u0000-\u001f\u007f]/.test(jsonKey)))
    return undefined;
  const secretsManager = SECRETS_MANAGER_ARN.exec(arn);
  const ssm = secretsManager ? null : SSM_PARAMETER_ARN.exec(arn);
  const match = secretsManager ?? ssm;
  if (!match) return undefined;
  return {
    ref,
    service: secretsManager ? "secretsmanager" : "ssm",
    arn,
    region: match[1] as string,
    ...(jsonKey !== undefined ? { jsonKey } : {}),
  };
}

type Path = readonly (string | number)[];

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Set);

/** An object with a `secretRef` key: a reference (well-formed or not). */
const looksLikeRef = (value: unknown): value is Record<string, unknown> =>
  isPlainObject(value) && Object.hasOwn(value, SECRET_REF_KEY);

/** Every reference in `params`, at any depth, with where it is. Malformed ones included. */
export function findSecretRefs(params: unknown): { path: Path; value: Record<string, unknown> }[] {
  const found: { path: Path; value: Record<string, unknown> }[] = [];
  const walk = (value: unknown, path: Path, depth: number) => {
    // DynamoDB nests at most 32 levels; deeper is nothing a config item can hold.
    if (depth > 64) return;
    if (looksLikeRef(value)) found.push({ path, value });
    else if (Array.isArray(value)) {
      for (const [index, entry] of value.entries()) walk(entry, [...path, index], depth + 1);
    } else if (isPlainObject(value)) {
      for (const [key, entry] of Object.entries(value)) walk(entry, [...path, key], depth + 1);
    }
  };
  walk(params, [], 0);
  return found;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `params.headers.Authorization`, `params.items[0]`, `params["x-api-key"]`: a param as people write it. */
export function paramPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((joined, key) => {
    if (typeof key === "number") return `${joined}[${key}]`;
    const name = String(key);
    return IDENTIFIER.test(name) ? `${joined}.${name}` : `${joined}[${JSON.stringify(name)}]`;
  }, "params");
}

/** Malformed references, as `params.<path>` problems; never quotes anything but the reference. */
export function secretRefProblems(params: unknown): { path: string; message: string }[] {
  return findSecretRefs(params).flatMap(({ path, value }) => {
    const where = paramPath(path);
    if (Object.keys(value).length !== 1) {
      return [{ path: where, message: `is a secret reference, which holds only "${SECRET_REF_KEY}"` }];
    }
    if (!parseSecretRef(value[SECRET_REF_KEY])) {
      return [{ path: `${where}.${SECRET_REF_KEY}`, message: SECRET_REF_FORMAT }];
    }
    return [];
  });
}

function mapRefs(value: unknown, replace: (ref: Record<string, unknown>) => unknown, depth = 0): unknown {
  if (depth > 64) return value;
  if (looksLikeRef(value)) return replace(value);
  if (Array.isArray(value)) return value.map((entry) => mapRefs(entry, replace, depth + 1));
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [key, mapRefs(entry, replace, depth + 1)]),
    );
  }
  return value;
}

/** `params` with every reference replaced by SECRET_PLACEHOLDER, for validation before resolution. */
export function withSecretPlaceholders(params: unknown): unknown {
  return mapRefs(params, () => SECRET_PLACEHOLDER);
}

/**
 * Whether a schema issue found on placeholder params still stands: an issue at (or under) a
 * reference's place stands only when a string cannot go there at all (`invalid_type`); a format,
 * length or pattern issue is about the placeholder, not the secret, and is checked after
 * resolution when the check validates its params.
 */
export function issueStandsBeforeResolution(
  issue: { path: readonly PropertyKey[]; code: string },
  refPaths: readonly Path[],
): boolean {
  if (issue.code === "invalid_type") return true;
  return !refPaths.some(
    (path) => path.length <= issue.path.length && path.every((key, index) => issue.path[index] === key),
  );
}

/** A reference could not be resolved: the message names the reference and why, never a value. */
export class SecretResolutionError extends Error {
  override name = "SecretResolutionError";
  constructor(
    readonly ref: string,
    readonly reason: string,
  ) {
    super(`secret ${ref} could not be read: ${reason}`);
  }
}

export interface ResolvedParams {
  params: Record<string, unknown>;
  /** The values that replaced references: what must never leave the check unmasked. */
  values: string[];
}

export interface SecretResolverOptions {
  /** @default SECRET_CACHE_TTL_MS */
  ttlMs?: number;
  /** @default SECRET_CACHE_MAX_ENTRIES */
  maxEntries?: number;
  /** Monotonic-enough milliseconds for the cache; injectable for tests. @default Date.now */
  now?: () => number;
}

interface CacheEntry {
  value: Promise<string>;
  /**
   * While the read is in flight, concurrent resolutions share it for up to one TTL (a read that
   * never settles is then replaced); once it succeeds, one TTL from then.
   */
  expiresAt: number;
}

/**
 * Resolves the references in params through a SecretSource, caching each secret (per ARN, so that
 * several `#jsonKey`s of one secret cost one read) for a short TTL and sharing a read in flight
 * between concurrent ticks. Failures are not cached: a fixed grant or a restored secret counts on
 * the next tick.
 */
export class SecretResolver {
  readonly #cache = new Map<string, CacheEntry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(
    private readonly source: SecretSource,
    options: SecretResolverOptions = {},
  ) {
    this.#ttlMs = options.ttlMs ?? SECRET_CACHE_TTL_MS;
    this.#maxEntries = options.maxEntries ?? SECRET_CACHE_MAX_ENTRIES;
    this.#now = options.now ?? Date.now;
  }

  #read(location: SecretLocation, fresh = false): Promise<string> {
    const key = `${location.service}|${location.arn}`;
    const cached = this.#cache.get(key);
    if (!fresh && cached && cached.expiresAt > this.#now()) return cached.value;
    const entry: CacheEntry = {
      value: Promise.resolve().then(() =>
        this.source.read({ service: location.service, arn: location.arn, region: location.region }),
      ),
      expiresAt: this.#now() + this.#ttlMs,
    };
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    if (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    entry.value
      .then(
        (value) => {
          if (typeof value !== "string") throw new TypeError("the secret source returned no string");
          entry.expiresAt = this.#now() + this.#ttlMs;
        },
        () => {
          if (this.#cache.get(key) === entry) this.#cache.delete(key);
        },
      )
      .catch(() => {
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
      });
    return entry.value;
  }

  async #resolveOne(ref: SecretRef, signal: AbortSignal | undefined): Promise<string> {
    let whole: string;
    try {
      whole = await abortable(this.#read(ref), signal);
    } catch (error) {
      if (signal?.aborted) throw new SecretResolutionError(ref.ref, "timed out");
      throw new SecretResolutionError(
        ref.ref,
        error instanceof SecretUnreadableError ? error.message : describeThrown(error),
      );
    }
    if (typeof whole !== "string") throw new SecretResolutionError(ref.ref, "the secret has no string value");
    return ref.jsonKey === undefined ? whole : pickJsonKey(ref, whole);
  }

  /**
   * `params` with every reference replaced by its value. Throws SecretResolutionError for the first
   * reference that is malformed or cannot be read; `signal` bounds the wait. `fresh` reads past the
   * cache (and refreshes it): after a failed run, to tell a rotated secret from a real failure.
   */
  async resolve(
    params: Record<string, unknown>,
    signal?: AbortSignal,
    options: { fresh?: boolean } = {},
  ): Promise<ResolvedParams> {
    const refs = findSecretRefs(params).map(({ value }) => {
      const parsed = Object.keys(value).length === 1 ? parseSecretRef(value[SECRET_REF_KEY]) : undefined;
      if (!parsed) throw new SecretResolutionError(String(value[SECRET_REF_KEY]), SECRET_REF_FORMAT);
      return parsed;
    });
    if (options.fresh) {
      // One read per secret past the cache (several #keys of a secret share it); the cache then
      // holds the fresh values, which the resolution below uses. A failed read is reported there.
      const distinct = new Map(refs.map((ref) => [`${ref.service}|${ref.arn}`, ref]));
      await Promise.all([...distinct.values()].map((ref) => this.#read(ref, true).catch(() => undefined)));
    }
    const resolved = new Map<string, string>();
    await Promise.all(
      refs.map(async (ref) => {
        resolved.set(ref.ref, await this.#resolveOne(ref, signal));
      }),
    );
    const replaced = mapRefs(params, (ref) => resolved.get(ref[SECRET_REF_KEY] as string));
    return { params: replaced as Record<string, unknown>, values: [...new Set(resolved.values())] };
  }
}

function pickJsonKey(ref: SecretRef, whole: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(whole);
  } catch {
    throw new SecretResolutionError(
      ref.ref,
      `the secret is not a JSON object, so #${ref.jsonKey} cannot pick from it`,
    );
  }
  if (!isPlainObject(parsed)) {
    throw new SecretResolutionError(
      ref.ref,
      `the secret is not a JSON object, so #${ref.jsonKey} cannot pick from it`,
    );
  }
  const key = ref.jsonKey as string;
  if (!Object.hasOwn(parsed, key)) throw new SecretResolutionError(ref.ref, `the secret has no key "${key}"`);
  const value = parsed[key];
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new SecretResolutionError(ref.ref, `the secret's key "${key}" holds no string, number or boolean`);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The forms a value may take when a check echoes it: as is, URL-encoded (in a URL), JSON-escaped
 * (in a serialized body or error), and Basic auth's base64 is covered by masking the whole header
 * value when the secret is the header value.
 */
function variants(value: string): string[] {
  const forms = new Set([value]);
  try {
    forms.add(encodeURIComponent(value));
  } catch {
    // A lone surrogate cannot be URL-encoded; the raw form is still masked.
  }
  forms.add(JSON.stringify(value).slice(1, -1));
  // A secret URL (a webhook whose path is the secret) is printed by checks in normalised forms:
  // the href (scheme and host lower-cased, spaces escaped), and without query and credentials.
  if (URL.canParse(value)) {
    const url = new URL(value);
    forms.add(url.href);
    if (url.pathname.length > 1) {
      forms.add(`${url.origin}${url.pathname}`);
      forms.add(url.pathname);
    }
  }
  return [...forms].filter((form) => form.length > 0);
}

/** `text` with every occurrence of a resolved secret value replaced by `[secret]`. */
export function maskSecretValues(text: string, values: readonly string[]): string {
  if (values.length === 0 || text.length === 0) return text;
  // Longest first: a value that contains another is masked whole.
  const forms = [...new Set(values.flatMap(variants))].sort((a, b) => b.length - a.length);
  let result = text;
  for (const form of forms) {
    if (result.includes(form)) result = result.split(form).join(SECRET_MASK);
  }
  return maskTruncatedPrefixes(result, forms);
}

/** Shortest start of a secret that is masked when a message cuts it off with an ellipsis. */
const MIN_TRUNCATED_PREFIX = 16;

/**
 * Checks cut long values to fit a message (`"abc…"`), before the masking sees them: a secret's start
 * followed by `…` is masked too, so a long secret cannot leak by its first 80 characters.
 */
function maskTruncatedPrefixes(text: string, forms: readonly string[]): string {
  if (!text.includes("…")) return text;
  let result = text;
  for (let at = result.indexOf("…"); at !== -1; at = result.indexOf("…", at + 1)) {
    let longest = 0;
    for (const form of forms) {
      for (let length = Math.min(form.length - 1, at); length >= MIN_TRUNCATED_PREFIX; length--) {
        if (length <= longest) break;
        if (result.startsWith(form.slice(0, length), at - length)) {
          longest = length;
          break;
        }
      }
    }
    if (longest > 0) {
      result = `${result.slice(0, at - longest)}${SECRET_MASK}${result.slice(at + 1)}`;
      at = at - longest + SECRET_MASK.length - 1;
    }
  }
  return result;
}
