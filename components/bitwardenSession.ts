/**
 * Opens the Bitwarden vault once before any key of a Bitwarden user changes, so a locked or
 * logged-out `bw` stops the run before a key is replaced. Runs only when something about
 * the Bitwarden users changes (so a no-change up starts no `bw`), and after the revocation
 * step, so revocations never wait on Bitwarden.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface BitwardenSessionArgs {
  /** Public facts whose change means the vault will be written: names, rotations, placement. */
  readonly watch: Record<string, unknown>;
  /** A `bw` executable, if not the project's pinned one. */
  readonly cli?: string;
}

export class BitwardenSession extends pulumi.ComponentResource {
  /** Depend on this to run only after the vault was found unlocked. */
  public readonly check: command.local.Command;

  constructor(name: string, args: BitwardenSessionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:BitwardenSession", name, {}, opts);
    this.check = new command.local.Command(
      `${name}-check`,
      {
        create: writerCommand("bitwarden-vault", "check"),
        stdin: JSON.stringify({ cli: args.cli, watch: args.watch }),
        interpreter: WRITER_INTERPRETER,
        logging: "stderr",
      },
      { parent: this, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    this.registerOutputs({});
  }
}
