/**
 * Where an auth config lives, as the program hands it to the steps (and reads it itself at
 * preview time): a file on this machine, or a file on a FetchML server over SSH. One schema,
 * so both sides agree on every field's name and type.
 */
import { z } from "zod";

export const localTargetSpec = z.strictObject({
  kind: z.literal("local"),
  /** Absolute path as configured (links are followed when it is read or written). */
  configPath: z.string().min(1),
  /** Shell command run after the file changed. */
  reloadCommand: z.string().optional(),
});

export const sshTargetSpec = z.strictObject({
  kind: z.literal("ssh"),
  name: z.string().min(1),
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
  user: z.string().min(1),
  /** Secret: the deploy key, kept in memory (never written to disk). */
  privateKey: z.string().min(1),
  /** The server's host key, one authorized_keys line: pinned, never learned. */
  hostKey: z.string().min(1),
  configPath: z.string().min(1),
  owner: z.string().optional(),
  group: z.string().optional(),
  reloadCommand: z.string().optional(),
});

export const targetSpec = z.discriminatedUnion("kind", [localTargetSpec, sshTargetSpec]);

export type LocalTargetSpec = z.infer<typeof localTargetSpec>;
export type SshTargetSpec = z.infer<typeof sshTargetSpec>;
export type TargetSpec = z.infer<typeof targetSpec>;

/** How a target is named in messages (never with a secret). */
export function targetLabel(spec: TargetSpec): string {
  return spec.kind === "ssh" ? `${spec.name} (${spec.user}@${spec.host}:${spec.port}:${spec.configPath})` : spec.configPath;
}
