/**
 * The server side: every active user's hash, in `auth.api_keys` of the FetchML server's
 * config file. One resource for the whole section, because the file is one unit: its
 * command merges at apply time (so the admin's other settings and comments survive) and
 * its delete takes out exactly the entries this stack wrote.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Access } from "../config/roles";
import { renderApiKeyEntries } from "../lib/authSection";
import type { AuthTarget } from "./authTarget";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface AuthUser {
  readonly name: string;
  readonly access: Access;
  /** The user's key hash (secret). */
  readonly apiKeyHash: pulumi.Input<string>;
}

export interface AuthConfigArgs {
  /** The FetchML server config: a local file or a server over SSH. */
  readonly target: AuthTarget;
  /** Users whose hashes belong in the file: declared and not suspended. */
  readonly users: readonly AuthUser[];
  /** Entries managed elsewhere (service accounts), left as they are. */
  readonly preserveEntries: readonly string[];
  /** Steps that must succeed first (revocation, vault delivery of new keys). */
  readonly waitFor?: pulumi.Resource[];
}

export class AuthConfig extends pulumi.ComponentResource {
  /** Which file (or server) this component owns `auth.api_keys` in. */
  public readonly target: pulumi.Output<string>;
  /** Users with an entry in the file, by name. */
  public readonly activeUsers: pulumi.Output<string[]>;

  constructor(name: string, args: AuthConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:AuthConfig", name, {}, opts);
    this.target = pulumi.output(args.target.label);
    this.activeUsers = pulumi.output(args.users.map((u) => u.name).sort());

    const request = pulumi.secret(
      pulumi.all([args.target.spec, pulumi.all(args.users.map((u) => u.apiKeyHash))]).apply(([target, hashes]) =>
        JSON.stringify({
          target,
          entries: renderApiKeyEntries(args.users.map((u, i) => ({ name: u.name, access: u.access, apiKeyHash: hashes[i] }))),
          preserve: [...args.preserveEntries].sort(),
        }),
      ),
    );
    new command.local.Command(
      `${name}-write`,
      {
        create: writerCommand("write-auth-config", "apply"),
        delete: writerCommand("write-auth-config", "remove"),
        stdin: request,
        interpreter: WRITER_INTERPRETER,
        // Lines name users only; streamed so an admin sees who was added or revoked.
        logging: "stdout",
        // Another file is another resource: write the new one, then clean the old one.
        triggers: [args.target.identity],
      },
      { parent: this, dependsOn: args.waitFor, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    this.registerOutputs({ target: this.target, activeUsers: this.activeUsers });
  }
}
