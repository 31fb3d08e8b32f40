/**
 * What the last successful run of this stack recorded about each user's key (the public
 * `users` output): when it was issued and how many rotations the age policy made. Read
 * through a StackReference to the stack itself, so the program can tell a key's age during
 * a preview without reading any secret.
 */
import * as pulumi from "@pulumi/pulumi";
import type { PreviousKey } from "../lib/keyPolicy";

export function previousKeys(): pulumi.Output<Record<string, PreviousKey>> {
  const self = new pulumi.StackReference("previous-run", {
    name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
  });
  return self.getOutput("users").apply((users) => (users && typeof users === "object" ? users : {}) as Record<string, PreviousKey>);
}
