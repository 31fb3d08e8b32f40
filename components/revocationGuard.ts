/**
 * Refuses an up that would take access from more than a set share of the active users
 * (a mangled config, a bad merge) unless the admin allows it for that run
 * (FETCHML_KEYS_ALLOW_MASS_REVOCATION=1, or the runner's --allow-mass-revocation). Every
 * step that removes access waits for it. It runs only when the set of active users changes.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface RevocationGuardArgs {
  /** Users who keep access after this run (names only). */
  readonly active: readonly string[];
  /** Largest share of the previously active users one run may revoke. */
  readonly maxRevokedShare: number;
}

export class RevocationGuard extends pulumi.ComponentResource {
  public readonly check: command.local.Command;

  constructor(name: string, args: RevocationGuardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:RevocationGuard", name, {}, opts);
    this.check = new command.local.Command(
      `${name}-check`,
      {
        create: writerCommand("guard-revocations", "check"),
        stdin: JSON.stringify({ active: [...args.active].sort(), maxRevokedShare: args.maxRevokedShare }),
        interpreter: WRITER_INTERPRETER,
        logging: "stderr",
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
