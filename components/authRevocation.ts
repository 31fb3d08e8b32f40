/**
 * Takes out of the server's auth config every entry that is no longer allowed (removed or
 * suspended users, undeclared entries), before and independently of any delivery step, so
 * a revocation never waits on Bitwarden. It never adds or changes an entry; AuthConfig does.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface AuthRevocationArgs {
  /** The FetchML server config file. */
  readonly path: string;
  /** Entries that may stay: active users and preserved entries. Names only, no secrets. */
  readonly keep: readonly string[];
}

export class AuthRevocation extends pulumi.ComponentResource {
  public readonly revoke: command.local.Command;

  constructor(name: string, args: AuthRevocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:AuthRevocation", name, {}, opts);
    this.revoke = new command.local.Command(
      `${name}-revoke`,
      {
        create: writerCommand("write-auth-config", "revoke"),
        stdin: JSON.stringify({ path: args.path, entries: {}, preserve: [...args.keep].sort() }),
        interpreter: WRITER_INTERPRETER,
        logging: "stdout",
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
