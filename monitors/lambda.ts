import type { InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import * as z from "zod/mini";
import { describeInvalidResult, isCheckResult, preview } from "#core/run-check.ts";
import { abortedError } from "./support/abort.ts";
import { checkClientConfig, lazyImport, regionalClients } from "./support/clients.ts";
import { errorText, formatBytes } from "./support/format.ts";
import { must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `lambda`: a check that runs outside the orchestrator, in a function the user deploys (any
 * runtime, its own role, its own VPC). The orchestrator invokes it synchronously with
 * `{ params: <params.input>, scheduledTime, monitorId }` and reads `{ isOk, message? }` from its
 * answer. What goes wrong on the far side ends as it would for an in-process check: a function
 * error is a thrown error (`Check "lambda" threw: <errorType>: <errorMessage> ...`), an answer
 * that is not a result is described as one (functions/core/run-check.ts), the check's timeout
 * aborts the call. Only a missing or forbidden function, a throttled or failed Invoke and an
 * oversized answer are failures of this check's own making.
 */

export const LAMBDA_CHECK = "lambda";

/** Largest answer read: a check result is a boolean and a sentence, not a report. */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** The shape a function's answer must have, as messages spell it. */
export const LAMBDA_RESULT_SHAPE = "{ isOk: boolean, message?: string }";

/**
 * Invoke keeps the connection silent while the function runs: an attempt may take as long as the
 * longest check (840 s); the check's own timeout (`ctx.signal`) ends it sooner.
 */
export const LAMBDA_INVOKE_TIMEOUTS = { connectMs: 3_000, requestMs: 900_000 };

const FUNCTION_ARN =
  /^arn:(aws[a-z-]*):lambda:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):function:([A-Za-z0-9_-]{1,64})$/;
const QUALIFIED_FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:function:[A-Za-z0-9_-]{1,64}:[^:\s]+$/;
// A version number, $LATEST or an alias name (Lambda's alias pattern: not only digits).
const QUALIFIER = /^(\$LATEST|[0-9]{1,20}|[A-Za-z0-9_-]{1,128})$/;

export const LambdaParamsSchema = z.strictObject({
  functionArn: z
    .string({ error: must("must be a Lambda function ARN") })
    .check(
      z.refine(
        (value) => !QUALIFIED_FUNCTION_ARN.test(value),
        "must be an unqualified function ARN: put the version or alias in params.qualifier",
      ),
      z.refine(
        (value) => QUALIFIED_FUNCTION_ARN.test(value) || FUNCTION_ARN.test(value),
        "must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)",
      ),
    )
    .register(z.globalRegistry, {
      description:
        "The function's unqualified ARN: arn:aws:lambda:<region>:<account>:function:<name> (invoked in that region).",
    }),
  qualifier: z
    .optional(
      z
        .string({ error: must("must be a version number or an alias name") })
        .check(
          z.regex(QUALIFIER, "must be a version number, $LATEST or an alias name (letters, digits, - and _)"),
        ),
    )
    .register(z.globalRegistry, {
      description: "A version number or an alias to invoke.",
      defaultText: "the unqualified function ($LATEST)",
    }),
  input: z.optional(z.unknown()).register(z.globalRegistry, {
    description: "Handed to the function as params in its event, as written (any JSON value).",
    defaultText: "{}",
  }),
});
export type LambdaParams = z.infer<typeof LambdaParamsSchema>;

/** The event the function receives. */
export interface LambdaCheckEvent {
  /** `params.input` of the monitor's config item. */
  params: unknown;
  /** The tick's scheduled time (ISO-8601, UTC): the logical "now" of the run. */
  scheduledTime: string;
  monitorId: string;
}

/** What the function threw, as the orchestrator reports a thrown error. */
export class LambdaFunctionError extends Error {
  constructor(
    errorType: string,
    message: string,
    readonly functionError: string,
  ) {
    super(message);
    this.name = errorType;
  }
}

type LambdaSdk = typeof import("@aws-sdk/client-lambda");
const loadLambdaSdk = lazyImport((): Promise<LambdaSdk> => import("@aws-sdk/client-lambda"));

let clients: ((region: string | undefined) => LambdaClient) | undefined;
async function defaultClientFor(region: string): Promise<LambdaClient> {
  const { LambdaClient } = await loadLambdaSdk();
  clients ??= regionalClients((each) => new LambdaClient(checkClientConfig(each, LAMBDA_INVOKE_TIMEOUTS)));
  return clients(region);
}

/** DynamoDB sets (SS, NS) arrive as Sets: the function gets them as lists. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Set) return [...value];
  if (typeof value === "bigint") return value.toString();
  return value;
}

const ERROR_TYPE = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The `{ errorType, errorMessage }` Lambda answers with when a function fails. */
function functionError(text: string, kind: string, name: string): LambdaFunctionError {
  let body: { errorType?: unknown; errorMessage?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  const errorType =
    typeof body?.errorType === "string" && ERROR_TYPE.test(body.errorType) ? body.errorType : "FunctionError";
  const errorMessage = typeof body?.errorMessage === "string" ? body.errorMessage : preview(text);
  return new LambdaFunctionError(
    errorType,
    `${errorMessage} (function ${name}, ${kind.toLowerCase()} error)`,
    kind,
  );
}

export interface LambdaCheckOptions {
  /** @default one cached LambdaClient per region (the function ARN's), from checkClientConfig */
  clientFor?: (region: string) => LambdaClient | Promise<LambdaClient>;
}

export function createLambdaCheck(options: LambdaCheckOptions = {}): CheckDefinition {
  const clientFor = options.clientFor ?? defaultClientFor;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(LAMBDA_CHECK, LambdaParamsSchema, ctx.params);
    const [, , region = "", , functionName = ""] = FUNCTION_ARN.exec(params.functionArn) ?? [];
    const name = params.qualifier ? `${functionName}:${params.qualifier}` : functionName;
    const event: LambdaCheckEvent = {
      params: params.input ?? {},
      scheduledTime: ctx.now.toISOString(),
      monitorId: ctx.monitorId,
    };

    const { InvokeCommand } = await loadLambdaSdk();
    const client = await clientFor(region);
    let output: InvokeCommandOutput;
    try {
      output = await client.send(
        new InvokeCommand({
          FunctionName: params.functionArn,
          ...(params.qualifier ? { Qualifier: params.qualifier } : {}),
          InvocationType: "RequestResponse",
          Payload: new TextEncoder().encode(JSON.stringify(event, jsonReplacer)),
        }),
        { abortSignal: ctx.signal },
      );
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `invoke of function ${name}`);
      const errorName = (error as { name?: unknown } | null)?.name;
      if (errorName === "ResourceNotFoundException") {
        return {
          isOk: false,
          message: `function ${name} does not exist in ${region} (params.functionArn ${params.functionArn}${params.qualifier ? `, params.qualifier ${params.qualifier}` : ""})`,
        };
      }
      if (errorName === "AccessDeniedException" || errorName === "AccessDenied") {
        return {
          isOk: false,
          message: `not allowed to invoke function ${name} (lambda:InvokeFunction): list ${params.functionArn} in the stack setting checkReadArns (${errorText(error)})`,
        };
      }
      return { isOk: false, message: `invoke of function ${name} failed: ${errorText(error)}` };
    }

    const payload = output.Payload ?? new Uint8Array();
    ctx.logger.debug("lambda check", {
      function: name,
      executedVersion: output.ExecutedVersion,
      functionError: output.FunctionError,
      answerBytes: payload.byteLength,
    });
    if (payload.byteLength > MAX_ANSWER_BYTES) {
      return {
        isOk: false,
        message: `function ${name} answered with ${formatBytes(payload.byteLength)}, more than the ${formatBytes(MAX_ANSWER_BYTES)} a check's answer may hold`,
      };
    }
    const text = new TextDecoder().decode(payload);
    if (output.FunctionError) throw functionError(text, output.FunctionError, name);

    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      return {
        isOk: false,
        message: `Function ${name} returned an answer that is not JSON (expected ${LAMBDA_RESULT_SHAPE}): ${preview(text)}`,
      };
    }
    // `message` may be left out; a result without one says what the function said.
    const result =
      typeof answer === "object" && answer !== null && !Array.isArray(answer) && !("message" in answer)
        ? {
            ...answer,
            message:
              (answer as { isOk?: unknown }).isOk === true
                ? `function ${name} reported OK`
                : `function ${name} reported a failure (without a message)`,
          }
        : answer;
    if (!isCheckResult(result)) {
      return { isOk: false, message: describeInvalidResult(`Function ${name}`, answer, LAMBDA_RESULT_SHAPE) };
    }
    return { isOk: result.isOk, message: result.message };
  }

  return {
    name: LAMBDA_CHECK,
    description:
      "Invokes the Lambda function params.functionArn (your own check: any runtime, role or VPC) and reads { isOk, message } from its answer.",
    paramsSchema: LambdaParamsSchema,
    example: {
      name: "Internal orders API answers",
      params: {
        functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:vpc-db-check",
        input: { url: "http://10.0.12.7:8080/health" },
      },
    },
    run,
  };
}

export const lambdaCheck = createLambdaCheck();
