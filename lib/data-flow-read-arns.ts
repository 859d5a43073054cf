import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { RDS_CLUSTER_ARN } from "../monitors/sql.ts";
import { STATE_MACHINE_ARN } from "../monitors/step-functions.ts";

/**
 * The `checkReadArns` of the data-flow checks (s3-object-freshness, step-functions, sql): which
 * ARNs the setting accepts for them, and the narrowest grant each needs. The SQS and DynamoDB
 * forms stay in lib/settings.ts and lib/orchestrator.ts.
 *
 * - `arn:aws:s3:::<bucket>`: s3:ListBucket on the bucket, s3:GetObject on `<bucket>/*`
 *   (HeadObject needs GetObject).
 * - `arn:aws:s3:::<bucket>/<prefix>*` (or an exact key): s3:GetObject on exactly that ARN, and
 *   s3:ListBucket on the bucket only for listings under that prefix (`s3:prefix` condition).
 * - `arn:aws:states:<region>:<account>:stateMachine:<name>[:<version or alias>]`:
 *   states:ListExecutions.
 * - `arn:aws:rds:<region>:<account>:cluster:<id>`: rds-data:ExecuteStatement. The Data API reads
 *   the database secret with the caller's permissions: that secret goes in checkSecretArns.
 */

/** `arn:<partition>:s3:::<bucket>` with an optional `/<path>`: a prefix ending in `*`, or a key. */
const S3_READ_ARN = /^arn:(aws[a-z-]*):s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/([^*?\s]+\*?|\*))?$/;

export function isDataFlowReadArn(arn: string): boolean {
  return S3_READ_ARN.test(arn) || STATE_MACHINE_ARN.test(arn) || RDS_CLUSTER_ARN.test(arn);
}

export const isRdsClusterArn = (arn: string): boolean => RDS_CLUSTER_ARN.test(arn);

export const DATA_FLOW_READ_ARN_FORMS =
  "S3 bucket (arn:aws:s3:::<bucket>, or arn:aws:s3:::<bucket>/<prefix>* for part of it), Step Functions state machine or Aurora cluster ARNs";

/** A read of S3 that the grant covers: a whole bucket, or the objects under a path of it. */
interface S3Read {
  bucketArn: string;
  /** Undefined: the whole bucket. Else the key prefix pattern (`exports/*`) or exact key. */
  path: string | undefined;
}

function s3Reads(arns: readonly string[]): S3Read[] {
  return arns.flatMap((arn) => {
    const match = S3_READ_ARN.exec(arn);
    if (!match) return [];
    const [, partition, bucket, path] = match;
    return [{ bucketArn: `arn:${partition}:s3:::${bucket}`, path: path === "*" ? undefined : path }];
  });
}

export interface DataFlowGrants {
  statements: PolicyStatement[];
  /** Resources with a wildcard the deployer wrote (objects under a bucket or a prefix), for cdk-nag. */
  wildcardResources: string[];
}

/** The statements that let the data-flow checks read exactly the listed resources. */
export function dataFlowReadGrants(arns: readonly string[]): DataFlowGrants {
  const statements: PolicyStatement[] = [];
  const reads = s3Reads(arns);
  const wholeBuckets = [...new Set(reads.filter((read) => !read.path).map((read) => read.bucketArn))];
  // A path of a bucket that is granted whole adds nothing.
  const objects = [
    ...new Set(
      reads.flatMap((read) => {
        if (!read.path) return [`${read.bucketArn}/*`];
        return wholeBuckets.includes(read.bucketArn) ? [] : [`${read.bucketArn}/${read.path}`];
      }),
    ),
  ];
  if (objects.length > 0) {
    statements.push(new PolicyStatement({ actions: ["s3:GetObject"], resources: objects }));
  }
  if (wholeBuckets.length > 0) {
    statements.push(new PolicyStatement({ actions: ["s3:ListBucket"], resources: wholeBuckets }));
  }
  // A bucket granted only in part may be listed only under its granted prefixes.
  const prefixesByBucket = new Map<string, string[]>();
  for (const read of reads) {
    if (!read.path || wholeBuckets.includes(read.bucketArn)) continue;
    const prefixes = prefixesByBucket.get(read.bucketArn) ?? [];
    if (!prefixes.includes(read.path)) prefixes.push(read.path);
    prefixesByBucket.set(read.bucketArn, prefixes);
  }
  for (const [bucketArn, prefixes] of prefixesByBucket) {
    statements.push(
      new PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [bucketArn],
        conditions: { StringLike: { "s3:prefix": prefixes } },
      }),
    );
  }

  const stateMachines = arns.filter((arn) => STATE_MACHINE_ARN.test(arn));
  if (stateMachines.length > 0) {
    statements.push(new PolicyStatement({ actions: ["states:ListExecutions"], resources: stateMachines }));
  }
  const clusters = arns.filter((arn) => RDS_CLUSTER_ARN.test(arn));
  if (clusters.length > 0) {
    statements.push(new PolicyStatement({ actions: ["rds-data:ExecuteStatement"], resources: clusters }));
  }
  return { statements, wildcardResources: objects.filter((resource) => resource.endsWith("*")) };
}
