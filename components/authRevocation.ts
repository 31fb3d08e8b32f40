/**
 * Takes out of one target's auth config every entry that is no longer allowed (removed or
 * suspended users, entries nobody declared), before and independently of any delivery step,
 * so a revocation never waits on Bitwarden. It never adds or changes an entry (AuthConfig
 * does). It runs when the set of entries that may stay changes.
 */
import * as pulumi from "@pulumi/pulumi";
import { authRevokeRequest } from "../steps/auth";
import type { TargetSpec } from "../targets/spec";
import { stepResource } from "./step";

export interface AuthRevocationArgs {
  /** `<organization>/<project>/<stack>`: the owner the target's record must name. */
  readonly stack: string;
  /** The file or server. */
  readonly target: TargetSpec;
  /** Entries that may stay: active users and preserved entries. */
  readonly keep: readonly string[];
  /** What the target really is, as this run records it (lib/runPlan.ts): another target is another revocation step. */
  readonly recordedIdentity: string;
}

export class AuthRevocation extends pulumi.ComponentResource {
  constructor(name: string, args: AuthRevocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:AuthRevocation", name, {}, opts);
    stepResource(
      `${name}-revoke`,
      {
        run: "auth-revoke",
        schema: authRevokeRequest,
        request: { stack: args.stack, target: args.target, keep: [...args.keep].sort() },
        triggers: [args.recordedIdentity],
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );
    this.registerOutputs({});
  }
}
