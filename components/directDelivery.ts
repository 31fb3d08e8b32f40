/**
 * Direct share: each direct-delivery user's `~/.ml/config.toml` as a 0600 file in one
 * directory, for the admin to hand over by a channel they trust (the seed's "no password
 * manager" path). One resource for all of them: a rotation rewrites one file in one step.
 */
import * as pulumi from "@pulumi/pulumi";
import { deliveryRequest, deliveryResult, previousResult } from "../steps/protocol";
import { stepResource } from "./step";

export interface DirectDeliveryArgs {
  /** Absolute directory (0700, this user's own). */
  readonly dir: string;
  /** Each user's ml config (secret). */
  readonly files: ReadonlyArray<{ readonly name: string; readonly mlConfig: pulumi.Input<string> }>;
}

export class DirectDelivery extends pulumi.ComponentResource {
  /** The files written (names only). */
  public readonly files: pulumi.Output<string[]>;

  constructor(name: string, args: DirectDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:DirectDelivery", name, {}, opts);
    const step = stepResource(
      `${name}-files`,
      {
        run: "delivery-write",
        undo: "delivery-remove",
        schema: deliveryRequest,
        request: { dir: args.dir, files: args.files.map((f) => [f.name, f.mlConfig] as [string, pulumi.Input<string>]) },
        // Another directory: write the files there, then remove them here.
        triggers: [args.dir],
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );
    this.files = step.stdout.apply((out) => previousResult(deliveryResult, out)?.files ?? []);
    this.registerOutputs({ files: this.files });
  }
}
