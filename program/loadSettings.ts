/** The stack's settings, read from the engine's config and validated whole before anything is read or declared: a bad config changes nothing. */
import * as pulumi from "@pulumi/pulumi";
import { exposureProblems } from "../config/exposure";
import { ConfigError, formatPath } from "../config/problems";
import { misplacedSecretProblem, misplacedSecrets, readNamespace, stackFileName, strayKeys } from "../config/rawConfig";
import { parseSettings, type Settings } from "../config/settings";
import { authTargets } from "../config/targets";
import { readFileIfExists } from "../lib/atomicFile";
import { searchPathProblems } from "../lib/safePath";
import { bwTrustProblems } from "../steps/bitwarden/bw";
import { refusal } from "./refusal";

export function loadSettings(): Settings {
  const file = stackFileName(pulumi.getStack());
  try {
    const config = pulumi.runtime.allConfig();
    const misplaced = misplacedSecrets(readFileIfExists(file), secretKeys(Object.keys(config)));
    const settings = parseWithout(readNamespace(config), misplaced, strayKeys(Object.keys(config)));
    const exposed = [
      ...exposureProblems(settings, pulumi.getStack()),
      ...(settings.bitwarden ? bwTrustProblems(settings.bitwarden.cli) : []),
      ...searchPathRefusals(settings),
    ];
    if (exposed.length > 0) throw new ConfigError(exposed);
    return settings;
  } catch (e) {
    // Named by its file: the engine's own framing around a program's error never says which file.
    if (e instanceof ConfigError) throw refusal(`${file}: ${e.message}`);
    throw e;
  }
}

/**
 * Where this run starts programs by name on this machine: a local target's reload command (a
 * shell looks its words up on PATH, and the admin may be root) and the admin's own `bw`
 * (`bitwarden.cli`: a script's `#!/usr/bin/env node` finds node on PATH, and runs with the
 * vault session; the pinned bw runs under this node, by its path). A PATH directory
 * another account can write would choose what runs. Checked here, at preview, for both ways of
 * running: the steps get this same PATH. (Over SSH, the reload runs with the server's PATH.)
 */
function searchPathRefusals(settings: Settings, env: NodeJS.ProcessEnv = process.env): string[] {
  const uses = [
    ...authTargets(settings).flatMap((t) => (t.spec.kind === "local" && t.spec.reloadCommand ? ["the reload command"] : [])),
    ...(settings.bitwarden?.cli ? ["bitwarden.cli"] : []),
  ];
  if (uses.length === 0) return [];
  return searchPathProblems(env.PATH).map(
    (problem) =>
      `PATH: ${problem}: another account could put a program there that ${uses.join(" and ")} would start by name, as you; ` +
      "take it off PATH for fetchml-keys, or make it a directory only root or you can change",
  );
}

/**
 * Parses the config with each misplaced secret taken out, so that no check ever sees (or quotes)
 * its value; every other problem is still named, all at once.
 */
function parseWithout(config: Record<string, unknown>, misplaced: PropertyKey[][], stray: string[]): Settings {
  if (misplaced.length === 0) return parseSettings(config, stray);
  for (const path of misplaced) removeAt(config, path);
  const names = misplaced.map(formatPath);
  let others: string[] = [];
  try {
    parseSettings(config, stray);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // "<path>: missing" for a setting taken out here says nothing new.
    others = e.problems.filter((p) => !names.some((name) => p.startsWith(`${name}:`)));
  }
  throw new ConfigError([...misplaced.map(misplacedSecretProblem), ...others]);
}

function removeAt(root: Record<string, unknown>, path: PropertyKey[]): void {
  let node: unknown = root;
  for (const segment of path.slice(0, -1)) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  if (node !== null && typeof node === "object") delete (node as Record<PropertyKey, unknown>)[path[path.length - 1]];
}

/**
 * The engine's list of top-level keys holding a secret, as the SDK reads it for
 * `Config.get` (inline programs too); internal to the SDK, so its presence is tested.
 */
export function secretKeys(keys: string[]): string[] {
  const isConfigSecret = (pulumi.runtime as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
  if (!isConfigSecret) throw new Error("@pulumi/pulumi no longer has runtime.isConfigSecret: misplaced secrets cannot be found");
  return keys.filter((key) => isConfigSecret(key));
}
