import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../local/servers.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

/** One DynamoDB Local (in memory, free loopback port) for the whole project; stopped at the end. */
export default async function setup(project: TestProject) {
  const server = await startDynamoDbLocal();
  project.provide("dynamoEndpoint", server.endpoint);
  return () => server.stop();
}
