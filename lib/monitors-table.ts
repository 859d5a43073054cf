import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  Billing,
  ProjectionType,
  StreamViewType,
  TableEncryptionV2,
  TableV2,
} from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { BUCKET_ATTRIBUTE, BUCKET_INDEX } from "../functions/core/buckets.ts";
import { DIRECTORY_ATTRIBUTE, DIRECTORY_INDEX } from "../functions/core/directory.ts";
import { TTL_ATTRIBUTE } from "./constants.ts";

/**
 * The Monitors table (DESIGN.md §2): config items owned by people, state and history items owned
 * by the orchestrator. It holds the only data a user cannot regenerate, so nothing short of
 * turning deletion protection off by hand may delete it.
 */
export class MonitorsTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new TableV2(this, "Table", {
      partitionKey: { name: "monitorId", type: AttributeType.STRING },
      sortKey: { name: "record", type: AttributeType.STRING },
      billing: Billing.onDemand(),
      // Schedule-sync reads config changes; NEW_AND_OLD keeps REMOVE records useful for auditing.
      dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryptionV2.awsManagedKey(),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // Bucket members (engine v2): sparse, only monitors' schedule items carry the attribute;
      // the fan-out reads the monitor ids of the partitions due in a minute.
      globalSecondaryIndexes: [
        {
          indexName: BUCKET_INDEX,
          partitionKey: { name: BUCKET_ATTRIBUTE, type: AttributeType.STRING },
          sortKey: { name: "monitorId", type: AttributeType.STRING },
          projectionType: ProjectionType.KEYS_ONLY,
        },
        // The monitor directory (functions/core/directory.ts): sparse, only each monitor's
        // directory item carries the attribute; the dashboard's overview reads every monitor id
        // from a few partitions instead of scanning the history.
        {
          indexName: DIRECTORY_INDEX,
          partitionKey: { name: DIRECTORY_ATTRIBUTE, type: AttributeType.STRING },
          sortKey: { name: "monitorId", type: AttributeType.STRING },
          projectionType: ProjectionType.KEYS_ONLY,
        },
      ],
    });
  }
}
