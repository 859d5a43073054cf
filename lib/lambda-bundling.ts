/**
 * Modules replaced in every Lambda bundle (esbuild `alias`, paths relative to the project root), read
 * by lib/watchkeeper-function.ts and by the bench, which bundles the orchestrator the same way. No
 * aws-cdk-lib import here, so the bench can read it without loading the CDK.
 *
 * `@aws-sdk/credential-provider-node`: the SDK's default credential chain, which every client imports
 * statically; in Lambda only its first link (environment variables) ever answers, so the bundles get
 * that link alone (functions/adapters/lambda-credentials.ts).
 */
export const LAMBDA_BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  "@aws-sdk/credential-provider-node": "./functions/adapters/lambda-credentials.ts",
};
