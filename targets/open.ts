/** Opens a target for reading or writing: on this machine, or over SSH. */
import type { TargetIO } from "./io";
import { LocalTarget } from "./local";
import type { TargetSpec } from "./spec";

export async function openTarget(spec: TargetSpec): Promise<TargetIO> {
  if (spec.kind === "local") return new LocalTarget(spec);
  // Loaded only for an SSH target: `ssh2` alone takes 0.2-0.3 s to load here, which every
  // step for a local file would otherwise pay.
  const { openSshTarget } = await import("./ssh");
  return openSshTarget(spec);
}
