/**
 * Chooses, per provider, the real plugin or the project's offline one (plugins/). The real
 * one always wins when it is installed at the version the npm SDK requests; the offline
 * ones are only put on the engine's PATH (as "ambient" plugins), never installed into the
 * user's plugin cache. FETCHML_KEYS_PLUGINS=real|offline forces either way.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "./paths";

/** Each offline plugin has a bin/ of its own, so choosing one never shadows the other. */
export function offlinePluginBin(name: ProviderName): string {
  return path.join(PROJECT_ROOT, "plugins", name, "bin");
}
export const PROVIDERS = ["random", "command"] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface PluginChoice {
  name: ProviderName;
  version: string;
  source: "real" | "offline";
}

/** The plugin version the npm SDK asks the engine for. */
export function sdkPluginVersion(name: ProviderName): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "node_modules", "@pulumi", name, "package.json"), "utf8"));
  return pkg.version;
}

export function realPluginInstalled(name: ProviderName, version: string, env = process.env): boolean {
  const home = env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  const installed = path.join(home, "plugins", `resource-${name}-v${version}`, `pulumi-resource-${name}`);
  return fs.existsSync(installed);
}

export function choosePlugins(env = process.env): PluginChoice[] {
  const mode = env.FETCHML_KEYS_PLUGINS ?? "auto";
  if (!["auto", "real", "offline"].includes(mode)) {
    throw new Error(`FETCHML_KEYS_PLUGINS=${mode}: expected auto, real or offline`);
  }
  return PROVIDERS.map((name) => {
    const version = sdkPluginVersion(name);
    const real = mode === "real" || (mode === "auto" && realPluginInstalled(name, version, env));
    return { name, version, source: real ? "real" : "offline" };
  });
}

/**
 * PATH for the engine: the chosen offline plugins' folders first, then the project's
 * node_modules/.bin (Node 22 and tsx for the writers the commands run), then the caller's.
 */
export function enginePath(choices: PluginChoice[], basePath = process.env.PATH ?? ""): string {
  const offline = choices.filter((c) => c.source === "offline").map((c) => offlinePluginBin(c.name));
  return [...offline, path.join(PROJECT_ROOT, "node_modules", ".bin"), basePath].filter(Boolean).join(path.delimiter);
}
