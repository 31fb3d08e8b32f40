/**
 * Direct share: each direct-delivery user's `~/.ml/config.toml` as a 0600 file in one
 * directory, for the admin to hand over by a channel they trust (the seed's "no password
 * manager" path). One resource for all of them: a rotation rewrites one file in one step.
 *
 * It also carries what the program read in the directory: a generation, bumped while a
 * delivered file is missing or changed by hand, so that drift is a change in preview and,
 * once repaired, no change.
 */
import * as pulumi from "@pulumi/pulumi";
import { changedByHand, type DeliveryReading, deliveryGeneration, fileDigest, type PreviousDelivery } from "../lib/deliveryPlan";
import { deliveryRequest, deliveryResult } from "../steps/delivery";
import { previousResult } from "../steps/protocol";
import { stepResource } from "./step";

export interface DirectDeliveryArgs {
  /** This stack (org/project/stack), recorded in the directory: another stack's directory is refused. */
  readonly stack: string;
  /** What the program read in the directory; its `dir` is the real path (0700, this user's own). */
  readonly reading: DeliveryReading;
  /** The last run's `delivery` output. */
  readonly previous?: PreviousDelivery;
  /** Users whose file should already be right (delivered here last run, key unchanged): checked for hand edits. */
  readonly settled: readonly string[];
  /** Each user's ml config (secret). */
  readonly files: ReadonlyArray<{ readonly name: string; readonly mlConfig: pulumi.Input<string> }>;
}

export class DirectDelivery extends pulumi.ComponentResource {
  /** The files written (names only). */
  public readonly files: pulumi.Output<string[]>;
  /** The generation this run asked for (the next run's `previous`). */
  public readonly generation: pulumi.Output<number>;

  constructor(name: string, args: DirectDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:DirectDelivery", name, {}, opts);
    const { reading, previous } = args;
    const digests = pulumi
      .all(args.files.map((f) => f.mlConfig))
      .apply((contents) => new Map(args.files.map((f, i) => [`${f.name}.toml`, fileDigest(contents[i])])));
    this.generation = digests.apply((wanted) => deliveryGeneration(reading, previous, wanted));
    digests.apply((wanted) => {
      for (const user of changedByHand(reading, previous, args.settled, (n) => wanted.get(`${n}.toml`)!))
        pulumi.log.info(`~ ${user}: delivery file ${reading.dir}/${user}.toml was changed by hand: up writes it again`);
    });
    const step = stepResource(
      `${name}-files`,
      {
        run: "delivery-write",
        undo: "delivery-remove",
        schema: deliveryRequest,
        request: {
          stack: args.stack,
          dir: reading.dir,
          files: args.files.map((f) => [f.name, f.mlConfig] as [string, pulumi.Input<string>]),
          generation: this.generation,
        },
        // Another directory (its real path): write the files there, then remove them here.
        triggers: [reading.dir],
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );
    this.files = step.stdout.apply((out) => previousResult(deliveryResult, out)?.files ?? []);
    this.registerOutputs({ files: this.files, generation: this.generation });
  }
}
