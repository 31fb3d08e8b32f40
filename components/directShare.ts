/**
 * Direct share: one user's `~/.ml/config.toml` as a 0600 file the admin hands over by a
 * channel they trust (the seed's "no password manager" path). Deleted with the user.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface DirectShareArgs {
  /** Where the file goes (relative paths are from the project root). */
  readonly path: pulumi.Input<string>;
  /** The file's content (secret). */
  readonly mlConfig: pulumi.Input<string>;
}

export class DirectShare extends pulumi.ComponentResource {
  /** The file written. */
  public readonly path: pulumi.Output<string>;

  constructor(name: string, args: DirectShareArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:DirectShare", name, {}, opts);
    this.path = pulumi.output(args.path);
    const request = pulumi.secret(
      pulumi.all([args.path, args.mlConfig]).apply(([path, content]) => JSON.stringify({ path, content })),
    );
    new command.local.Command(
      `${name}-file`,
      {
        create: writerCommand("write-secret-file", "write"),
        delete: writerCommand("write-secret-file", "remove"),
        stdin: request,
        interpreter: WRITER_INTERPRETER,
        logging: "stdout",
        // A new path means a new file: write it, then the old one's delete removes the old.
        triggers: [this.path],
      },
      { parent: this, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    this.registerOutputs({ path: this.path });
  }
}
