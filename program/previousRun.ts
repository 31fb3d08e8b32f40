/**
 * What the last successful run of this stack recorded (its public stack outputs): when each
 * key was issued and how many rotations the age policy made.
 *
 * Read with the engine's builtin `pulumi:pulumi:readStackOutputs` invoke, the same way under
 * plain `pulumi` and under the runner. An invoke leaves nothing in state (a StackReference to
 * the stack itself would be a resource that only one of the two ways declares), and it is made
 * before the program registers anything. On a file:// backend a read can still meet the
 * engine's own checkpoint write half-way ("failed to load checkpoint: EOF"), which is
 * transient: the read is retried a few times before the run fails.
 */
import * as pulumi from "@pulumi/pulumi";
import type { PreviousDelivery } from "../lib/deliveryPlan";
import {
  deliveryOutput,
  type PreviousTarget,
  previousTarget,
  type PreviousSettings,
  previousSettings,
  type PreviousUser,
  previousUser,
} from "./outputs";

export interface PreviousRun {
  /** The `users` output: per user, their access and the public facts of their key. */
  users: Map<string, PreviousUser>;
  /** The `authTargets` output: each target and the entries this stack wrote there. */
  targets: PreviousTarget[];
  /** The `delivery` output, with its directory (recorded once, in `settings.deliveryDir`). */
  delivery?: PreviousDelivery;
  /** The `settings` output (absent when the last run recorded none, or not whole; 1.0.0's lacks bitwardenCli). */
  settings?: PreviousSettings;
}

const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";
const ATTEMPTS = 5;

export async function readPreviousRun(delayMs = 200): Promise<PreviousRun> {
  const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  for (let attempt = 1; ; attempt++) {
    let outputs: unknown;
    try {
      const result = await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: self }, { async: true });
      outputs = result?.outputs;
    } catch (e) {
      if (attempt >= ATTEMPTS) throw new pulumi.RunError(`cannot read this stack's previous outputs: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, delayMs * attempt));
      continue;
    }
    return parsePreviousRun(outputs);
  }
}

/**
 * The last run's outputs, checked with the schemas the program writes them with
 * (program/outputs.ts). What does not match is treated as not recorded, as for a stack's
 * first run: a user or target record of another shape is left out (that user's key is then
 * planned as new, that target as new), a settings or delivery output of another shape is
 * absent. Nothing is cast: a field the plan reads has the type its schema says.
 */
export function parsePreviousRun(outputs: unknown): PreviousRun {
  const o = asMap(outputs);
  const users = new Map<string, PreviousUser>();
  for (const [name, record] of Object.entries(asMap(o.users))) {
    const parsed = previousUser.safeParse(record);
    if (parsed.success) users.set(name, parsed.data);
  }
  const targets = (Array.isArray(o.authTargets) ? o.authTargets : []).flatMap((t: unknown) => {
    const parsed = previousTarget.safeParse(t);
    return parsed.success ? [parsed.data] : [];
  });
  const settings = previousSettings.safeParse(o.settings);
  const delivery = deliveryOutput.safeParse(o.delivery);
  const dir = settings.success ? settings.data.deliveryDir : null;
  return {
    users,
    targets,
    ...(delivery.success && dir !== null ? { delivery: { dir, ...delivery.data } } : {}),
    ...(settings.success ? { settings: settings.data } : {}),
  };
}

/** A JSON object's own entries (a Map-like record: any name is a plain key), else none. */
function asMap(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
