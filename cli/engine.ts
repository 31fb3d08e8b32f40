/**
 * Finds the Pulumi CLI the runner drives: scripts/ensure-engine.sh decides (a new enough
 * `pulumi` on PATH, else a cached build of the pinned version, else it builds one from the
 * Go module proxy). Shared by the runner and the end-to-end tests.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "./paths";

export interface Engine {
  /** The folder holding `bin/pulumi`, as PulumiCommand.get wants it. */
  root: string;
  binary: string;
  version: string;
}

let cached: Engine | undefined;

export function ensureEngine(): Engine {
  if (cached) return cached;
  const binDir = execFileSync("/bin/bash", [path.join(PROJECT_ROOT, "scripts", "ensure-engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  const binary = path.join(binDir, "pulumi");
  if (!fs.existsSync(binary)) throw new Error(`ensure-engine.sh pointed at ${binDir}, which holds no pulumi`);
  const version = execFileSync(binary, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).trim();
  cached = { root: path.dirname(binDir), binary, version };
  return cached;
}
