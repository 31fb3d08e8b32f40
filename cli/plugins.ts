/**
 * Chooses, per plugin, the real one or the project's offline stand-in (plugins/): the two
 * resource providers and the Node.js language host. The real one always wins when it is
 * installed (a provider at the version the npm SDK requests, in the plugin cache; the language
 * host next to the engine, as the official install bundles it, or on PATH). Offline ones are
 * only put first on the engine's PATH ("ambient" plugins), never installed into the user's
 * plugin cache. FETCHML_KEYS_PLUGINS=real|offline forces either way.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "./paths";

export const PLUGINS = ["random", "command", "nodejs"] as const;
export type PluginName = (typeof PLUGINS)[number];
type ProviderName = Exclude<PluginName, "nodejs">;

export interface PluginChoice {
  name: PluginName;
  kind: "resource" | "language";
  version: string;
  source: "real" | "offline";
}

/** Each offline plugin has a bin/ of its own, so choosing one never shadows another. */
export function offlinePluginBin(name: PluginName): string {
  return path.join(PROJECT_ROOT, "plugins", name === "nodejs" ? "language-nodejs" : name, "bin");
}

const executable = (name: PluginName) => (name === "nodejs" ? "pulumi-language-nodejs" : `pulumi-resource-${name}`);

/** The plugin version the npm SDK asks the engine for (the language host: the SDK's own). */
export function sdkPluginVersion(name: PluginName): string {
  const pkg = name === "nodejs" ? "pulumi" : name;
  return JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "node_modules", "@pulumi", pkg, "package.json"), "utf8")).version;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function realProviderInstalled(name: ProviderName, version: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const home = env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  return isExecutable(path.join(home, "plugins", `resource-${name}-v${version}`, `pulumi-resource-${name}`));
}

/** The official install puts the language host beside `pulumi`; some put it on PATH. Ours does not count. */
export function realLanguageHostInstalled(engineBinDir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const ours = offlinePluginBin("nodejs");
  const dirs = [engineBinDir, ...(env.PATH ?? "").split(path.delimiter)].filter((d) => d && path.resolve(d) !== ours);
  return dirs.some((dir) => isExecutable(path.join(dir, executable("nodejs"))));
}

export function choosePlugins(engineBinDir: string, env: NodeJS.ProcessEnv = process.env): PluginChoice[] {
  const mode = env.FETCHML_KEYS_PLUGINS ?? "auto";
  if (!["auto", "real", "offline"].includes(mode)) {
    throw new Error(`FETCHML_KEYS_PLUGINS=${mode}: expected auto, real or offline`);
  }
  return PLUGINS.map((name) => {
    const version = sdkPluginVersion(name);
    const installed = name === "nodejs" ? realLanguageHostInstalled(engineBinDir, env) : realProviderInstalled(name, version, env);
    const real = mode === "real" || (mode === "auto" && installed);
    return { name, kind: name === "nodejs" ? "language" : "resource", version, source: real ? "real" : "offline" };
  });
}

/**
 * PATH for the engine: the chosen offline plugins' folders first, then the project's
 * node_modules/.bin (Node 22, which the steps' and plugins' launchers exec), then the caller's.
 */
export function enginePath(choices: PluginChoice[], basePath = process.env.PATH ?? ""): string {
  const offline = choices.filter((c) => c.source === "offline").map((c) => offlinePluginBin(c.name));
  return [...offline, path.join(PROJECT_ROOT, "node_modules", ".bin"), basePath].filter(Boolean).join(path.delimiter);
}
