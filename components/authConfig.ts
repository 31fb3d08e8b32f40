/**
 * The server side: every active user's hash, in `auth.api_keys` of one target (the FetchML
 * config file here, or on a server over SSH). One resource for the whole section, because
 * the file is one unit: its step merges at apply time (the admin's other settings and
 * comments survive), and its delete takes out exactly the entries this stack wrote, unless a
 * newer step of this stack has taken the file over.
 *
 * It also carries what the program read on the target: the record's generation, bumped when
 * the target is not exactly what this stack wants (a hand edit, a missing or extra entry, a
 * reload still owed). That makes drift a change in preview, and once repaired, no change.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Access } from "../config/roles";
import type { TargetPlan } from "../lib/accessPlanTargets";
import { targetGeneration } from "../lib/targetGeneration";
import { renderApiKeyEntries, renderApiKeyEntry, entryDigest } from "../lib/authSection";
import { authWriteRequest } from "../steps/auth";
import type { TargetReading } from "../targets/read";
import type { TargetSpec } from "../targets/spec";
import { stepResource } from "./step";

export interface AuthUser {
  readonly name: string;
  readonly access: Access;
  /** The user's key hash (secret). */
  readonly apiKeyHash: pulumi.Input<string>;
}

export interface AuthConfigArgs {
  readonly stack: string;
  /** The file or server. */
  readonly target: TargetSpec;
  /** What the target really is, as this run records it (lib/runPlan.ts): a change moves the entries (write there, then remove here). */
  readonly recordedIdentity: string;
  /** Users whose hashes belong in the file: declared and not suspended. */
  readonly users: readonly AuthUser[];
  /** Entries managed elsewhere (service accounts), left as they are. */
  readonly preserve: readonly string[];
  /** What the program read on the target in this run. */
  readonly reading: TargetReading;
  /** Users whose entry should already be right (key and access unchanged): checked for hand edits. */
  readonly verify: readonly string[];
  /** Set when the record this stack wrote last run is missing or unusable (lib/accessPlanTargets.ts). */
  readonly recordLost?: TargetPlan["recordLost"];
}

export class AuthConfig extends pulumi.ComponentResource {
  /** What the target really is, as this run records it (the real path, or the server's host key and real path). */
  public readonly recordedIdentity: pulumi.Output<string>;
  /** The entries this stack writes there. */
  public readonly managed: pulumi.Output<string[]>;
  /** The record generation passed to the write step (the next run's starting point if the record is lost); null: not reached. */
  public readonly generation: pulumi.Output<number | null>;

  constructor(name: string, args: AuthConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:AuthConfig", name, {}, opts);
    this.recordedIdentity = pulumi.output(args.recordedIdentity);
    this.managed = pulumi.output(args.users.map((u) => u.name));
    const entries = pulumi
      .all(args.users.map((u) => u.apiKeyHash))
      .apply((hashes) => renderApiKeyEntries(args.users.map((u, i) => ({ name: u.name, access: u.access, apiKeyHash: hashes[i] }))));
    const generation = entries.apply((wanted) => targetGeneration(args.reading, wanted, args.preserve, args.stack, args.recordLost));
    this.generation = generation;
    for (const user of args.users.filter((u) => args.verify.includes(u.name))) {
      const found = args.reading.entries.get(user.name);
      pulumi.output(user.apiKeyHash).apply((apiKeyHash) => {
        if (found && found.digest !== entryDigest(renderApiKeyEntry({ name: user.name, access: user.access, apiKeyHash }))) {
          pulumi.log.info(
            `~ ${user.name}: entry on ${args.reading.label} was changed by hand (its hash is not this user's key): up restores it`,
          );
        }
      });
    }
    stepResource(
      `${name}-write`,
      {
        run: "auth-write",
        undo: "auth-remove",
        schema: authWriteRequest,
        request: {
          stack: args.stack,
          target: args.target,
          entries: entries.apply((wanted) => [...wanted]),
          preserve: [...args.preserve].sort(),
          generation,
        },
        triggers: [args.recordedIdentity],
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );
    // `identity`: the component's outputs in state keep the key 1.0.0 wrote.
    this.registerOutputs({ identity: this.recordedIdentity, managed: this.managed, generation: this.generation });
  }
}
