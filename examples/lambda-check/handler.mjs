/**
 * A Watchkeeper `lambda` check (docs/checks.md#lambda): a function you deploy with its own role,
 * runtime and VPC, which the orchestrator invokes synchronously on the monitor's schedule.
 *
 * Event:  { params: <the monitor's params.input>, scheduledTime: "2026-11-21T10:05:00.000Z", monitorId }
 * Answer: { isOk: boolean, message?: string }. A thrown error, a timeout or any other answer is a
 *         failed run, reported as such.
 *
 * This one asks an HTTP endpoint that only the function can reach (a private address in its VPC)
 * and checks the status. Keep the function's timeout below the monitor's checkTimeoutSeconds.
 */
export async function handler(event) {
  const { url, expectedStatus = 200, timeoutMs = 5000 } = event?.params ?? {};
  if (typeof url !== "string" || !/^https?:\/\//.test(url)) {
    // Thrown: the run fails with `Check "lambda" threw: Error: params.input.url ...`.
    throw new Error("params.input.url must be an http(s) URL");
  }
  let response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  } catch (error) {
    return { isOk: false, message: `${url} did not answer: ${error.cause?.code ?? error.name}` };
  }
  await response.body?.cancel();
  return {
    isOk: response.status === expectedStatus,
    message: `${url} answered ${response.status} (expected ${expectedStatus})`,
  };
}
