/**
 * What the runner checks in the state before an up or a destroy. The engine acts on what the
 * state holds as much as on what the program declares: a command resource's delete runs the
 * command text stored there, with the stored request decrypted on its stdin and the engine's
 * environment (the passphrase) around it; an undeclared resource is deleted by its provider,
 * which the engine may first download from a URL the state names. So whoever can write the
 * state store (the shared PostgreSQL role, a file:// backend's directory) could otherwise run
 * anything as the admin at the next destroy, move or removal. Plain `pulumi` checks none of it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { z } from "zod";
import { STEP_INTERPRETER, stepCommand } from "../components/step";
import { STEPS } from "../steps/protocol";
import { show } from "../config/problems";
import { CommandError } from "./commandError";
import { stackSecretsProvider } from "./workspace";

/** What the runner reads of a state as `pulumi stack export` writes it (other fields pass unread). */
const storedStateSchema = z.object({
  deployment: z
    .object({
      resources: z
        .array(
          z.object({
            urn: z.string(),
            type: z.string(),
            custom: z.boolean().optional(),
            inputs: z.record(z.string(), z.unknown()).optional(),
            outputs: z.record(z.string(), z.unknown()).optional(),
          }),
        )
        .nullish(),
      pending_operations: z.array(z.unknown()).nullish(),
      secrets_providers: z.object({ type: z.string(), state: z.record(z.string(), z.unknown()).nullish() }).nullish(),
    })
    .nullish(),
});
export type StateResource = NonNullable<NonNullable<z.infer<typeof storedStateSchema>["deployment"]>["resources"]>[number];

export interface StoredState {
  resources: StateResource[];
  /** Changes the engine started and never recorded the end of (a killed run). */
  pendingOperations: unknown[];
  /** The secrets provider the state names: the engine decrypts the state's secrets with it. */
  secretsProvider?: { type: string; state?: Record<string, unknown> | null };
}

/**
 * The stack's state as stored: secrets stay ciphertext. Every read of the state by the runner
 * goes through here, not stack.exportStack(), which asks for --show-secrets: that would decrypt
 * every key into this process and show a request stored in plain text the same as an
 * encrypted one.
 */
export async function storedState(stack: Stack): Promise<StoredState> {
  const workspace = stack.workspace as LocalWorkspace;
  const { stdout } = await promisify(execFile)(
    workspace.pulumiCommand.command,
    ["stack", "export", "--stack", stack.name, "--non-interactive"],
    {
      cwd: workspace.workDir,
      env: { ...process.env, ...workspace.envVars },
      maxBuffer: 1024 ** 3,
    },
  );
  const parsed = storedStateSchema.safeParse(JSON.parse(stdout));
  if (!parsed.success)
    throw new CommandError(
      `stack ${stack.name}: its exported state is not in the form this runner reads: ${z.prettifyError(parsed.error)}`,
    );
  const deployment = parsed.data.deployment;
  return {
    resources: deployment?.resources ?? [],
    pendingOperations: deployment?.pending_operations ?? [],
    ...(deployment?.secrets_providers ? { secretsProvider: deployment.secrets_providers } : {}),
  };
}

/** Resources whose deletion runs code: those this program declares, with their providers. */
const CUSTOM_TYPES = new Set([
  "random:index/randomPassword:RandomPassword",
  "command:local:Command",
  "pulumi:providers:random",
  "pulumi:providers:command",
  // The engine's own provider (built in, nothing fetched).
  "pulumi:providers:pulumi",
]);

/**
 * Why the state holds what this program never declares, or []: a resource of another type
 * (this program's own components, `fetchml:index:*`, run nothing), a provider to be fetched
 * from a URL, or a command whose `create`, `update` or `delete` is not a step's fixed text,
 * which has an interpreter, directory or environment of its own, or whose request is not
 * stored encrypted. `resources`: as stored, secrets not decrypted. Pure.
 */
export function untrustedState(resources: readonly StateResource[]): string[] {
  const known = new Set<unknown>(STEPS.map(stepCommand));
  const problems: string[] = [];
  for (const r of resources) {
    // A custom resource of this program's package would have the engine look for a provider plugin of that name.
    if (r.type.startsWith("fetchml:index:") && r.custom) {
      problems.push(`${r.urn}: a custom resource of type ${r.type}, which this program declares only as a component`);
      continue;
    }
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
      // The request, as stored: always encrypted by this stack's secrets provider. A plain one
      // (or one stored as plaintext) was written without the passphrase, and the step would take
      // its target and reload command for this program's.
      if (!encrypted(props.stdin)) odd.add("stdin");
    }
    if (odd.size > 0) problems.push(`${r.urn}: its ${[...odd].join(", ")} ${odd.size > 1 ? "are" : "is"} not this program's`);
  }
  return problems;
}

/** A secret as the state stores it (`pulumi stack export` without --show-secrets). */
function encrypted(value: unknown): boolean {
  return typeof value === "object" && value !== null && typeof (value as { ciphertext?: unknown }).ciphertext === "string";
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (typeof value === "object" && Object.keys(value).length === 0);
}

/**
 * Why the secrets provider the state names is not one this stack may use, or undefined. The
 * engine decrypts the state's secrets (every command's request) with whatever provider the state
 * names: a state writer without the passphrase could name a cloud KMS of its own (an `awskms://`
 * URL with an endpoint it runs) and so have its own ciphertext taken for a request of this
 * program's. A passphrase provider is safe under any salt (its key needs the passphrase); a
 * cloud one must be the one the stack file names (`configured`). Pure.
 */
export function secretsProviderProblem(stored: StoredState["secretsProvider"], configured: string | undefined): string | undefined {
  if (!stored || stored.type === "passphrase") return undefined;
  const url = stored.state?.url;
  if (stored.type === "cloud" && configured !== undefined && url === configured) return undefined;
  const named = stored.type === "cloud" ? `cloud ${show(url)}` : show(stored.type);
  return (
    `its secrets provider, ${named}, is not ${configured ? `the one the stack file names (${show(configured)})` : "the passphrase (the stack file names no other)"}: ` +
    "the engine would ask it for the key to the state's secrets and take what it answers for this program's requests"
  );
}

/** Before an up or destroy (and an applying `user` command): refuses a state holding what this program never declares. */
export async function refuseUntrustedState(stack: Stack, stackName: string): Promise<void> {
  const state = await storedState(stack);
  const provider = secretsProviderProblem(state.secretsProvider, stackSecretsProvider(stackName));
  const problems = [...(provider ? [provider] : []), ...untrustedState(state.resources)];
  if (problems.length === 0) return;
  throw new CommandError(
    `stack ${stackName}: its state holds what this program never declares, which the engine would run as you ` +
      `(with the stored request on its stdin) at the next destroy, move or removal:\n${problems.join("\n")}\n` +
      "Someone with write access to the state store put it there. Nothing was run. Restore the state from a backup you trust " +
      "(pulumi stack import), and find out who can write the state store",
  );
}
