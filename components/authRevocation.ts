/**
 * Takes out of one target's auth config every entry that is no longer allowed (removed or
 * suspended users, undeclared entries), before and independently of any delivery step, so
 * a revocation never waits on Bitwarden. It never adds or changes an entry; AuthConfig does.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { AuthTarget } from "./authTarget";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface AuthRevocationArgs {
  /** The file or server. */
  readonly target: AuthTarget;
  /** Entries that may stay: active users and preserved entries. */
  readonly keep: readonly string[];
}

export class AuthRevocation extends pulumi.ComponentResource {
  public readonly revoke: command.local.Command;

  constructor(name: string, args: AuthRevocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:AuthRevocation", name, {}, opts);
    const keep = [...args.keep].sort();
    this.revoke = new command.local.Command(
      `${name}-revoke`,
      {
        create: writerCommand("write-auth-config", "revoke"),
        stdin: args.target.spec.apply((target) => JSON.stringify({ target, entries: {}, preserve: keep })),
        interpreter: WRITER_INTERPRETER,
        logging: "stdout",
        triggers: [args.target.identity],
      },
      { parent: this, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    this.registerOutputs({});
  }
}
