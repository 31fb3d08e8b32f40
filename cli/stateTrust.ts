/**
 * What the runner checks in the state before an up or a destroy. The engine acts on what the
 * state holds as much as on what the program declares: a command resource's delete runs the
 * command text stored there, with the stored request decrypted on its stdin and the engine's
 * environment (the passphrase) around it; an undeclared resource is deleted by its provider,
 * which the engine may first download from a URL the state names. So whoever can write the
 * state store (the shared PostgreSQL role, a file:// backend's directory) could otherwise run
 * anything as the admin at the next destroy, move or removal. Plain `pulumi` checks none of it.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { STEP_INTERPRETER, stepCommand } from "../components/step";
import { STEPS } from "../steps/protocol";
import { CommandError } from "./commandError";

/** A resource as `pulumi stack export` lists it. */
export interface StateResource {
  urn: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** Resources whose deletion runs code: those this program declares, with their providers. */
const CUSTOM_TYPES = new Set([
  "random:index/randomPassword:RandomPassword",
  "command:local:Command",
  "pulumi:providers:random",
  "pulumi:providers:command",
]);

/**
 * Why the state holds what this program never declares, or []: a resource of another type
 * (this program's own components, `fetchml:index:*`, run nothing), a provider to be fetched
 * from a URL, or a command whose `create`, `update` or `delete` is not a step's fixed text, or
 * which has an interpreter, directory or environment of its own. Pure.
 */
export function untrustedState(resources: readonly StateResource[]): string[] {
  const known = new Set<unknown>(STEPS.map(stepCommand));
  const problems: string[] = [];
  for (const r of resources) {
    if (r.type === "pulumi:pulumi:Stack" || r.type.startsWith("fetchml:index:")) continue;
    if (!CUSTOM_TYPES.has(r.type)) {
      problems.push(`${r.urn}: a resource of type ${r.type}, which this program never declares`);
      continue;
    }
    const odd = new Set<string>();
    for (const props of [r.inputs ?? {}, r.outputs ?? {}]) {
      if (r.type.startsWith("pulumi:providers:")) {
        if (!isEmpty(props.pluginDownloadURL)) odd.add("pluginDownloadURL");
        continue;
      }
      if (r.type !== "command:local:Command") continue;
      if (!known.has(props.create)) odd.add("create");
      if (props.delete !== undefined && !known.has(props.delete)) odd.add("delete");
      // Absent, or empty as a provider may store an unset field.
      for (const field of ["update", "dir", "environment"]) if (!isEmpty(props[field])) odd.add(field);
      if (props.interpreter !== undefined && JSON.stringify(props.interpreter) !== JSON.stringify(STEP_INTERPRETER)) odd.add("interpreter");
    }
    if (odd.size > 0) problems.push(`${r.urn}: its ${[...odd].join(", ")} ${odd.size > 1 ? "are" : "is"} not this program's`);
  }
  return problems;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (typeof value === "object" && Object.keys(value).length === 0);
}

/** Before an up or destroy (and an applying `user` command): refuses a state holding what this program never declares. */
export async function refuseUntrustedState(stack: Stack, stackName: string): Promise<void> {
  const state = await stack.exportStack();
  const problems = untrustedState((state.deployment as { resources?: StateResource[] } | undefined)?.resources ?? []);
  if (problems.length === 0) return;
  throw new CommandError(
    `stack ${stackName}: its state holds what this program never declares, which the engine would run as you ` +
      `(with the stored request on its stdin) at the next destroy, move or removal:\n${problems.join("\n")}\n` +
      "Someone with write access to the state store put it there. Nothing was run. Restore the state from a backup you trust " +
      "(pulumi stack import), and find out who can write the state store",
  );
}
