/**
 * Why the program stops, for the admin: a RunError, which the engine prints once without a
 * stack trace. Its stack is the message itself: @pulumi/pulumi formats every uncaught error's
 * stack (for tracing), and under ts-node mapping the frames took 13 s of CPU here.
 */
import * as pulumi from "@pulumi/pulumi";

export function refusal(message: string): pulumi.RunError {
  const error = new pulumi.RunError(message);
  error.stack = message;
  return error;
}
