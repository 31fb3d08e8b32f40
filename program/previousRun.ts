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
import type { PreviousTarget, PreviousUser, RunSettings } from "../lib/accessPlan";
import type { PreviousDelivery } from "../lib/deliveryPlan";

export interface PreviousRun {
  /** The `users` output: per user, their access and the public facts of their key. */
  users: Map<string, PreviousUser>;
  /** The `authTargets` output: each target and the entries this stack wrote there. */
  targets: PreviousTarget[];
  /** The `delivery` output: the delivery directory's real path and its generation (absent before 0.3). */
  delivery?: PreviousDelivery;
  /** The `settings` output: preserved entries, delivery directory, ml config values, vault organization (absent before it was recorded). */
  settings?: RunSettings;
}

const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";
const ATTEMPTS = 5;

export async function readPreviousRun(delayMs = 200): Promise<PreviousRun> {
  const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: self }, { async: true });
      const outputs = result?.outputs ?? {};
      return {
        users: new Map(Object.entries(asMap(outputs.users)) as Array<[string, PreviousUser]>),
        targets: asTargets(outputs.authTargets),
        ...(asDelivery(outputs.delivery) ? { delivery: asDelivery(outputs.delivery) } : {}),
        settings: asSettings(outputs.settings),
      };
    } catch (e) {
      if (attempt >= ATTEMPTS) throw new pulumi.RunError(`cannot read this stack's previous outputs: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, delayMs * attempt));
    }
  }
}

function asMap(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Targets as recorded since 0.2 ({name, label, identity, managed}; now also the record
 * generation passed to the write step); older runs recorded labels only.
 */
function asTargets(value: unknown): PreviousTarget[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((t) => (t && typeof t === "object" && !isReload(t.reloadCommand) ? { ...t, reloadCommand: undefined } : t))
    .filter(
      (t): t is PreviousTarget =>
        !!t &&
        typeof t === "object" &&
        typeof t.name === "string" &&
        typeof t.label === "string" &&
        typeof t.identity === "string" &&
        Array.isArray(t.managed),
    )
    .map(({ generation, ...t }) => (Number.isSafeInteger(generation) ? { ...t, generation } : t));
}

function asDelivery(value: unknown): PreviousDelivery | undefined {
  const d = asMap(value);
  if (typeof d.dir !== "string" || !Number.isSafeInteger(d.generation)) return undefined;
  const files = Array.isArray(d.files) && d.files.every((f) => typeof f === "string") ? { files: d.files as string[] } : {};
  return { dir: d.dir, generation: d.generation as number, ...files };
}

/** A recorded reload command: its text, or null for none (anything else: not recorded). */
function isReload(value: unknown): value is string | null {
  return value === null || typeof value === "string";
}

/** The settings output, when the last run recorded one whole (else nothing to compare with). */
function asSettings(value: unknown): RunSettings | undefined {
  const s = asMap(value);
  const client = asMap(s.client);
  const ok =
    Array.isArray(s.preserveEntries) &&
    s.preserveEntries.every((n) => typeof n === "string") &&
    (s.deliveryDir === null || typeof s.deliveryDir === "string") &&
    (s.bitwardenOrganization === null || typeof s.bitwardenOrganization === "string") &&
    typeof client.workerHost === "string" &&
    typeof client.workerPort === "number" &&
    typeof client.apiUrl === "string";
  return ok ? (s as unknown as RunSettings) : undefined;
}
