/**
 * The one way components run a step (steps/main.ts): a `command.local.Command` whose command
 * strings are fixed text naming a stable entry point and a step (kept in state, so they must
 * never change when files move), whose request is JSON on stdin (secret: keys, hashes, an SSH
 * key), and which streams only stderr, where steps write names and never a secret.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { StepName } from "../steps/protocol";

export const STEP_INTERPRETER = ["/bin/sh", "-c"];

/** Relative to the project root, the working directory of every command (runner and plain `pulumi`). */
export function stepCommand(step: StepName): string {
  return `exec ./bin/fetchml-keys-step ${step}`;
}

/** A request whose fields may be outputs (a hash, an SSH key), at any depth. */
export type DeepInput<T> = [T] extends [string | number | boolean | null | undefined]
  ? pulumi.Input<T>
  : T extends ReadonlyArray<infer U>
    ? pulumi.Input<ReadonlyArray<DeepInput<U>>>
    : pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>;

export interface StepArgs<T> {
  /** The step run on create and whenever the request changes. */
  run: StepName;
  /** The step run on delete, with the request stored in state. */
  undo?: StepName;
  /** The step's schema: the request is checked here, before it leaves the program. */
  schema: z.ZodType<T>;
  request: DeepInput<T>;
  /** A change here replaces the resource: the new one runs first, then the old one's undo. */
  triggers?: pulumi.Input<string>[];
}

export function stepResource<T>(name: string, args: StepArgs<T>, opts: pulumi.CustomResourceOptions): command.local.Command {
  const stdin = pulumi.secret(
    (pulumi.output(args.request as pulumi.Input<object>) as pulumi.Output<unknown>).apply((request) => {
      const checked = args.schema.safeParse(request);
      // Paths only: an issue's message could quote a secret value.
      if (!checked.success)
        throw new Error(`${name}: request does not match ${args.run} (at ${checked.error.issues.map((i) => i.path.join(".")).join(", ")})`);
      return JSON.stringify(checked.data);
    }),
  );
  return new command.local.Command(
    name,
    {
      create: stepCommand(args.run),
      ...(args.undo ? { delete: stepCommand(args.undo) } : {}),
      stdin,
      interpreter: STEP_INTERPRETER,
      logging: "stderr",
      ...(args.triggers ? { triggers: args.triggers } : {}),
    },
    { additionalSecretOutputs: ["stderr"], ...opts },
  );
}
