/**
 * What the last successful run of this stack recorded about each user's key (the public
 * `users` output): when it was issued and how many rotations the age policy made.
 *
 * The runner reads that output before it runs the program and hands it over in
 * FETCHML_KEYS_PREVIOUS_USERS. Under a plain `pulumi up` the program reads it itself through
 * a StackReference to its own stack; on a file:// backend that read can collide with the
 * engine writing the checkpoint ("failed to load checkpoint: EOF", seen in this project's
 * tests), which fails the run without changing anything: run it again.
 */
import * as pulumi from "@pulumi/pulumi";
import type { PreviousKey } from "../lib/keyPolicy";

export const PREVIOUS_USERS_ENV = "FETCHML_KEYS_PREVIOUS_USERS";

export function previousKeys(env: NodeJS.ProcessEnv = process.env): pulumi.Output<Record<string, PreviousKey>> {
  const handedOver = env[PREVIOUS_USERS_ENV];
  if (handedOver !== undefined) return pulumi.output(asUsers(safeJson(handedOver)));
  const self = new pulumi.StackReference("previous-run", {
    name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
  });
  return self.getOutput("users").apply(asUsers);
}

function asUsers(value: unknown): Record<string, PreviousKey> {
  return (value && typeof value === "object" && !Array.isArray(value) ? value : {}) as Record<string, PreviousKey>;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
