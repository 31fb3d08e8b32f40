/**
 * A target: one FetchML auth config this stack manages, a file on this machine or a file on
 * a FetchML server over SSH. This module owns its shape, once: stack config's `servers[]`
 * entries (and the local `authConfigPath`/`reloadCommand`) are validated with these fields,
 * the settings take their types from them, and the steps check the spec they are handed with
 * the same schema (one shape on both sides of the process boundary).
 *
 * A target has three names, one for each thing it is, used for nothing else:
 *  - `resourceName`: what the stack calls it ("auth-config", "server-<server name>"): its
 *    components' and steps' resource names, and the key a run finds the last run's record of
 *    it by. The `authTargets` output stores it as `name` (1.0.0), mapped in program/outputs.ts;
 *    a server's own `name` is only the name the admin chose for it (`servers[].name`).
 *  - `label`: how a person reads it in messages (targetLabel below): the configured path, or
 *    "<server name> (<user>@<host>:<port>:<path>)". Never a secret.
 *  - `identity`: what it really is, resolved when read (the real path; over SSH the server's
 *    host key and real path): two targets with one identity are one file, and a new identity
 *    is a move. What a run records (`recordedIdentity`, lib/runPlan.ts) is the identity, or
 *    the label for a target never reached.
 */
import { z } from "zod";
import { linuxPath } from "../lib/linuxPath";
import { printable, UNPRINTABLE_RULE } from "../lib/printable";

const port = z.int().min(1).max(65535);
const reloadCommand = z.string().min(1).refine(printable, { error: UNPRINTABLE_RULE });

/** A FetchML server reached over SSH, as stack config declares it (`servers[]`). */
export const serverSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: "must be 1-32 characters: a-z, 0-9, '-'" }),
  host: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, { error: "must be a host name or IP" }),
  port: port.optional(),
  user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, { error: "must be a Unix user name" }),
  /** The SSH private key (set it with `pulumi config set --secret --path`); kept in memory, never written to disk. */
  privateKey: z.string().min(1),
  /** The server's public host key, one authorized_keys-style line: pinned, never learned. */
  hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+=*( .*)?$/, {
    error: "must be one host key line, e.g. the server's /etc/ssh/ssh_host_ed25519_key.pub",
  }),
  configPath: linuxPath.regex(/^\//, { error: "must be an absolute path on the server" }),
  /** A configPath that does not exist is created by up; unset, it is refused (a typo is not a new file). */
  createIfMissing: z.boolean().optional(),
  owner: z
    .string()
    .regex(/^[a-z_][a-z0-9_.-]{0,31}$/)
    .optional(),
  group: z
    .string()
    .regex(/^[a-z_][a-z0-9_.-]{0,31}$/)
    .optional(),
  /** Run on the server after its file changed, e.g. `systemctl restart fetchml-api`. */
  reloadCommand: reloadCommand.optional(),
});

/** The local target as the steps take it (stack config: `authConfigPath`, `reloadCommand`). */
export const localTargetSpec = z.strictObject({
  kind: z.literal("local"),
  /** As configured (may be relative) until program/world.ts puts the real path in its place for the steps; links are followed when it is read or written. */
  configPath: linuxPath,
  /** Shell command run after the file changed. */
  reloadCommand: reloadCommand.optional(),
});

/** A server as the steps take it: its stack config entry with the port settled, less what only the plan uses. */
export const sshTargetSpec = serverSchema.omit({ createIfMissing: true }).extend({ kind: z.literal("ssh"), port });

export const targetSpec = z.discriminatedUnion("kind", [localTargetSpec, sshTargetSpec]);

export type LocalTargetSpec = z.infer<typeof localTargetSpec>;
export type SshTargetSpec = z.infer<typeof sshTargetSpec>;
export type TargetSpec = z.infer<typeof targetSpec>;

/** A server in the settings: its spec less the kind, and whether up may create its file (settled: no longer optional). */
export type ServerSettings = Omit<SshTargetSpec, "kind"> & Required<Pick<z.infer<typeof serverSchema>, "createIfMissing">>;

/** How a target is named in messages (never with a secret). */
export function targetLabel(spec: TargetSpec): string {
  return spec.kind === "ssh" ? `${spec.name} (${spec.user}@${spec.host}:${spec.port}:${spec.configPath})` : spec.configPath;
}

/** The login a server's label names (the last run records labels, not logins); undefined for a local target's. */
export function labelLogin(label: string): string | undefined {
  return /^[a-z][a-z0-9-]* \(([^@()]+)@/.exec(label)?.[1];
}
