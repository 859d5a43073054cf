import { defineConfig } from "vitest/config";

// One DynamoDB Local per project that needs it (started by globalSetup, one table per test file);
// fauxqs and aws-ses-v2-local are started in-process by the test files themselves.
export default defineConfig({
  test: {
    maxWorkers: 2,
    // This machine runs Node 20; the SDK's "Node 22 soon" notice would repeat in every worker.
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // The tests play an operator who lets monitors open every kind of address, so that each
      // check's params decide; test/unit/monitors/addresses.test.ts holds the ceiling itself.
      CHECK_ALLOW_ADDRESSES: "loopback,link-local,metadata",
    },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      // Schedule evaluation must not depend on the machine's zone: its tests again under four
      // (west of UTC too, where a stray local getter shows up as the previous day).
      ...["UTC", "Europe/London", "Pacific/Auckland", "America/Chicago"].map((zone) => ({
        extends: true as const,
        test: {
          name: `schedule-tz:${zone}`,
          include: ["test/unit/core/schedule-*.test.ts"],
          env: { TZ: zone, WATCHKEEPER_EXPECT_TZ: zone },
        },
      })),
      { extends: true, test: { name: "infra", include: ["test/infra/**/*.test.ts"], testTimeout: 120_000 } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/global-dynamodb.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          // Chromium unpacked once, before the workers start (test/support/browser.ts).
          globalSetup: ["test/support/global-dynamodb.ts", "test/support/global-chromium.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          testTimeout: 300_000,
          globalSetup: ["test/support/global-dynamodb.ts"],
        },
      },
    ],
  },
});
