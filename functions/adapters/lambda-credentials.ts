import { type FromEnvInit, fromEnv } from "@aws-sdk/credential-provider-env";
import type { AwsCredentialIdentityProvider } from "@smithy/types";

/**
 * What the Lambda bundles use in place of `@aws-sdk/credential-provider-node` (the SDK's default
 * credential chain), substituted at bundle time by lib/lambda-bundling.ts; nothing imports this file
 * directly. Every SDK client's node runtime config imports that chain statically, so passing
 * `credentials` to a client would not keep it out of the bundle: the substitution does, and with it
 * goes `@aws-sdk/nested-clients` (STS, SSO, SSO-OIDC, Signin) and the INI, process, web-identity,
 * container and instance-metadata providers: 115 KB of a 630 KB orchestrator bundle.
 *
 * Same behaviour in Lambda: the runtime always puts the execution role's credentials in
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (and sets no AWS_PROFILE), which is
 * the first thing the default chain reads, with the same `fromEnv`. The local runtime and the tests
 * run the handlers from source, with the real chain.
 */
export const defaultProvider = (init?: FromEnvInit): AwsCredentialIdentityProvider => fromEnv(init);
