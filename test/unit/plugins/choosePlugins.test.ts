import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { choosePlugins, enginePath, offlinePluginBin, sdkPluginVersion } from "../../../cli/plugins";

/** The temp dirs a test made, removed after it. */
const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function pulumiHome(installed: string[]): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-home-"));
  made.push(home);
  for (const name of installed) {
    const dir = path.join(home, "plugins", `resource-${name}-v${sdkPluginVersion(name as "random")}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `pulumi-resource-${name}`), "", { mode: 0o755 });
  }
  return home;
}

/** A folder holding `pulumi` and, when asked, the language host beside it (an official install). */
function engineDir(withLanguageHost: boolean): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-bin-"));
  made.push(dir);
  fs.writeFileSync(path.join(dir, "pulumi"), "", { mode: 0o755 });
  if (withLanguageHost) fs.writeFileSync(path.join(dir, "pulumi-language-nodejs"), "", { mode: 0o755 });
  return dir;
}

describe("choosePlugins", () => {
  it("uses the offline plugins and language host where the real ones are not installed", () => {
    const choices = choosePlugins(engineDir(false), { PULUMI_HOME: pulumiHome([]), PATH: "/usr/bin" });
    expect(choices).toEqual([
      { name: "random", kind: "resource", version: "4.21.2", source: "offline" },
      { name: "command", kind: "resource", version: "1.2.1", source: "offline" },
      { name: "nodejs", kind: "language", version: sdkPluginVersion("nodejs"), source: "offline" },
    ]);
    const PATH = enginePath(choices, "/usr/bin").split(path.delimiter);
    expect(PATH.slice(0, 3)).toEqual([offlinePluginBin("random"), offlinePluginBin("command"), offlinePluginBin("nodejs")]);
  });

  it("lets an installed real plugin win, without shadowing it on PATH", () => {
    const choices = choosePlugins(engineDir(false), { PULUMI_HOME: pulumiHome(["random"]), PATH: "/usr/bin" });
    expect(choices.map((c) => c.source)).toEqual(["real", "offline", "offline"]);
    expect(enginePath(choices, "/usr/bin")).not.toContain(offlinePluginBin("random"));
    expect(enginePath(choices, "/usr/bin")).toContain(offlinePluginBin("command"));
  });

  it("uses the real language host bundled next to the engine, or found on PATH, but never counts its own", () => {
    const home = pulumiHome([]);
    expect(choosePlugins(engineDir(true), { PULUMI_HOME: home, PATH: "/usr/bin" })[2].source).toBe("real");
    expect(choosePlugins(engineDir(false), { PULUMI_HOME: home, PATH: `${engineDir(true)}:/usr/bin` })[2].source).toBe("real");
    const ours = choosePlugins(engineDir(false), { PULUMI_HOME: home, PATH: `${offlinePluginBin("nodejs")}:/usr/bin` });
    expect(ours[2].source).toBe("offline");
  });

  it("honours FETCHML_KEYS_PLUGINS and rejects other values", () => {
    const home = pulumiHome(["random", "command"]);
    const bin = engineDir(true);
    expect(choosePlugins(bin, { PULUMI_HOME: home, FETCHML_KEYS_PLUGINS: "offline" }).map((c) => c.source)).toEqual([
      "offline",
      "offline",
      "offline",
    ]);
    expect(choosePlugins(engineDir(false), { PULUMI_HOME: pulumiHome([]), FETCHML_KEYS_PLUGINS: "real" }).map((c) => c.source)).toEqual([
      "real",
      "real",
      "real",
    ]);
    expect(() => choosePlugins(bin, { FETCHML_KEYS_PLUGINS: "maybe" })).toThrow(/expected auto, real or offline/);
  });
});
