import type {
  GetSecretValueCommandInput,
  GetSecretValueCommandOutput,
} from "@aws-sdk/client-secrets-manager";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import {
  type AckLinkKeyRing,
  type AckLinkKeySource,
  AckLinks,
  DEFAULT_ACK_LINK_TTL_MS,
} from "#core/ack-link.ts";
import type { NotificationLinks } from "#core/ports.ts";

/**
 * The ack link key ring from Secrets Manager: AWSCURRENT signs, AWSCURRENT and AWSPREVIOUS verify
 * (a rotation leaves links already mailed working until their own expiry or the next rotation).
 * Cached for `cacheMs`: one read per warm function per 5 minutes, not one per mail.
 */

/** The one Secrets Manager call this needs (tests pass a fake; AWS: the SDK client, loaded lazily). */
export interface SecretValueReader {
  getSecretValue(
    input: GetSecretValueCommandInput,
  ): Promise<Pick<GetSecretValueCommandOutput, "SecretString">>;
}

export const ACK_LINK_KEY_CACHE_MS = 5 * 60_000;
/** A read past the cache (a link that failed to verify) happens at most this often. */
export const ACK_LINK_KEY_FRESH_READ_MS = 60_000;

export class SecretsManagerAckLinkKeys implements AckLinkKeySource {
  readonly #secretArn: string;
  readonly #reader: SecretValueReader;
  readonly #cacheMs: number;
  readonly #clock: () => number;
  #cached: { ring: Promise<AckLinkKeyRing>; at: number } | undefined;

  constructor(options: {
    secretArn: string;
    reader?: SecretValueReader;
    cacheMs?: number;
    clock?: () => number;
  }) {
    this.#secretArn = options.secretArn;
    this.#reader = options.reader ?? lazySecretsManager(regionOf(options.secretArn));
    this.#cacheMs = options.cacheMs ?? ACK_LINK_KEY_CACHE_MS;
    this.#clock = options.clock ?? Date.now;
  }

  keys(options: { fresh?: boolean } = {}): Promise<AckLinkKeyRing> {
    const now = this.#clock();
    // A fresh read is for a link signed with a key this function has not seen yet (the orchestrator
    // re-read the secret after a rotation first); rate-limited, so forged links cannot flood it.
    const maxAge = options.fresh ? ACK_LINK_KEY_FRESH_READ_MS : this.#cacheMs;
    if (this.#cached && now - this.#cached.at < maxAge) return this.#cached.ring;
    const ring = this.#read();
    this.#cached = { ring, at: now };
    // A failed read is not cached: the next mail tries again.
    ring.catch(() => {
      if (this.#cached?.ring === ring) this.#cached = undefined;
    });
    return ring;
  }

  async #read(): Promise<AckLinkKeyRing> {
    const current = await this.#stage("AWSCURRENT");
    if (!current) throw new Error(`the ack link secret ${this.#secretArn} has no AWSCURRENT value`);
    let previous: string | undefined;
    try {
      previous = await this.#stage("AWSPREVIOUS");
    } catch (error) {
      // Before the first rotation there is no AWSPREVIOUS version.
      if ((error as Error).name !== "ResourceNotFoundException") throw error;
    }
    return { current, ...(previous && previous !== current ? { previous } : {}) };
  }

  async #stage(stage: "AWSCURRENT" | "AWSPREVIOUS"): Promise<string | undefined> {
    const { SecretString } = await this.#reader.getSecretValue({
      SecretId: this.#secretArn,
      VersionStage: stage,
    });
    return SecretString || undefined;
  }
}

function regionOf(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}

function lazySecretsManager(region: string | undefined): SecretValueReader {
  let client: import("@aws-sdk/client-secrets-manager").SecretsManagerClient | undefined;
  return {
    async getSecretValue(input) {
      const sdk = await import("@aws-sdk/client-secrets-manager");
      client ??= new sdk.SecretsManagerClient({
        ...(region ? { region } : {}),
        requestHandler: boundedRequestHandler(),
      });
      return client.send(new sdk.GetSecretValueCommand(input));
    },
  };
}

/**
 * The engine's NotificationLinks from its environment: `DASHBOARD_URL` and `ACK_LINK_SECRET_ARN`
 * (set by the stack when the dashboard is enabled; `ACK_LINK_TTL_HOURS` optional). Undefined when
 * either is missing: the mail then carries no link.
 */
export function notificationLinksFromEnv(
  env: Record<string, string | undefined> = process.env,
  reader?: SecretValueReader,
): NotificationLinks | undefined {
  const dashboardUrl = env.DASHBOARD_URL?.trim();
  const secretArn = env.ACK_LINK_SECRET_ARN?.trim();
  // `npm start` only (local/runtime.ts): the key of this local run, there being no Secrets Manager.
  const localKey = env.WATCHKEEPER_LOCAL_ACK_LINK_KEY?.trim();
  if (!dashboardUrl || (!secretArn && !localKey)) return undefined;
  const hours = Number(env.ACK_LINK_TTL_HOURS);
  const ttlMs = Number.isFinite(hours) && hours > 0 ? hours * 3_600_000 : DEFAULT_ACK_LINK_TTL_MS;
  const keys: AckLinkKeySource = secretArn
    ? new SecretsManagerAckLinkKeys({ secretArn, ...(reader ? { reader } : {}) })
    : { keys: async () => ({ current: localKey ?? "" }) };
  return new AckLinks({ dashboardUrl, ttlMs, keys });
}
