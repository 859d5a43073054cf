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

/**
 * AWS SDK clients that only some ticks need: those of some monitors (secret references, the checks
 * of S3, CloudWatch, Step Functions, the RDS Data API, Lambda; SNS for `sns` channels) and SES v2, which only a tick that
 * sends mail needs. The code imports them dynamically, on first use; the function's main bundle
 * leaves them out, and the asset carries them as local packages under `node_modules/` (built by
 * `sideBundleCommands`, pinned versions from this lockfile, shared code split into chunks), which
 * that dynamic import finds. So a fleet of `http` monitors neither ships nor parses Step Functions'
 * client at cold start, and a tick that sends no mail never parses SES's.
 */
export const LAZY_SDK_PACKAGES: readonly string[] = [
  "@aws-sdk/client-cloudwatch",
  "@aws-sdk/client-lambda",
  "@aws-sdk/client-rds-data",
  "@aws-sdk/client-s3",
  "@aws-sdk/client-secrets-manager",
  "@aws-sdk/client-sesv2",
  "@aws-sdk/client-sfn",
  "@aws-sdk/client-sns",
  "@aws-sdk/client-ssm",
];

/** The banner of every ESM bundle: CommonJS dependencies call require(), which ESM lacks. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** Where the split main bundle puts its chunks, relative to the asset's root. */
export const MAIN_CHUNKS_DIR = "_chunks";

/**
 * The shell command that rebuilds a function's main bundle with code splitting (CDK's
 * `commandHooks.afterBundling`; CDK's own esbuild run writes a single file): lib/split-main-bundle.ts,
 * with the same options as lib/watchkeeper-function.ts gives CDK (ESM, minified, source maps without
 * sources, the aliases, LAZY_SDK_PACKAGES external), so `index.mjs` and its map are replaced by the
 * same code, except that every module reached only through a dynamic `import()` (the orchestrator's
 * checks, monitors/lazy-registry.ts, its channel senders, and the SDK's own lazy imports) becomes a
 * chunk under `_chunks/`, loaded on first use instead of parsed at every cold start. The code the
 * entry needs at once sits in as few files as the SDK's own lazy imports allow (four for the
 * orchestrator); nothing is duplicated.
 * @param entry the handler module, relative to inputDir
 * @param metafile where esbuild writes its metafile (the bench reads it); none by default
 */
export function splitMainBundleCommand(
  inputDir: string,
  outputDir: string,
  entry: string,
  target: string,
  metafile?: string,
): string {
  return [
    `cd "${inputDir}" &&`,
    "node_modules/.bin/tsx lib/split-main-bundle.ts",
    `./${entry} "${outputDir}" ${target}`,
    ...(metafile ? [`"${metafile}"`] : []),
  ].join(" ");
}

/**
 * Shell commands that build LAZY_SDK_PACKAGES into `<outputDir>/node_modules` (CDK's
 * `commandHooks.afterBundling`): one esbuild run, ESM with code splitting (the SDK core the
 * clients share is one chunk), every file `.mjs` (no package scope decides their module type under
 * node_modules), and a package.json per client whose `main` is its entry.
 */
export function sideBundleCommands(inputDir: string, outputDir: string, target: string): string[] {
  const out = `${outputDir}/node_modules`;
  const aliases = Object.entries(LAMBDA_BUNDLE_ALIASES).map(([from, to]) => `--alias:${from}=${to}`);
  return [
    [
      `cd "${inputDir}" &&`,
      // The project's esbuild (the lockfile's version); in CDK's Docker bundling image, its own.
      '"$([ -x node_modules/.bin/esbuild ] && echo node_modules/.bin/esbuild || command -v esbuild)"',
      // `out=in` entries: each client's entry lands at <out>/<package>/index.mjs.
      ...LAZY_SDK_PACKAGES.map((name) => `${name}/index=${name}`),
      "--bundle --splitting --format=esm --platform=node --minify --log-level=warning",
      `--target=${target} --main-fields=module,main`,
      `--outdir="${out}" --out-extension:.js=.mjs`,
      "--chunk-names=_chunks/[name]-[hash]",
      `--banner:js="${ESM_REQUIRE_BANNER}"`,
      ...aliases,
    ].join(" "),
    ...LAZY_SDK_PACKAGES.map(
      (name) =>
        `printf '%s' '{"name":"${name}","type":"module","main":"./index.mjs"}' > "${out}/${name}/package.json"`,
    ),
  ];
}
