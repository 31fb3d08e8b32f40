import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { choosePlugins, enginePath, offlinePluginBin, sdkPluginVersion } from "../../../cli/plugins";

function pulumiHome(installed: string[]): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-home-"));
  for (const name of installed) {
    const dir = path.join(home, "plugins", `resource-${name}-v${sdkPluginVersion(name as "random")}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `pulumi-resource-${name}`), "", { mode: 0o755 });
  }
  return home;
}

describe("choosePlugins", () => {
  it("uses the offline plugins where the pinned real ones are not installed", () => {
    const choices = choosePlugins({ PULUMI_HOME: pulumiHome([]) });
    expect(choices).toEqual([
      { name: "random", version: "4.21.2", source: "offline" },
      { name: "command", version: "1.2.1", source: "offline" },
    ]);
    const PATH = enginePath(choices, "/usr/bin").split(path.delimiter);
    expect(PATH.slice(0, 2)).toEqual([offlinePluginBin("random"), offlinePluginBin("command")]);
  });

  it("lets an installed real plugin win, without shadowing it on PATH", () => {
    const choices = choosePlugins({ PULUMI_HOME: pulumiHome(["random"]) });
    expect(choices.map((c) => c.source)).toEqual(["real", "offline"]);
    expect(enginePath(choices, "/usr/bin")).not.toContain(offlinePluginBin("random"));
    expect(enginePath(choices, "/usr/bin")).toContain(offlinePluginBin("command"));
  });

  it("honours FETCHML_KEYS_PLUGINS and rejects other values", () => {
    const home = pulumiHome(["random", "command"]);
    expect(choosePlugins({ PULUMI_HOME: home, FETCHML_KEYS_PLUGINS: "offline" }).map((c) => c.source)).toEqual(["offline", "offline"]);
    expect(choosePlugins({ PULUMI_HOME: pulumiHome([]), FETCHML_KEYS_PLUGINS: "real" }).map((c) => c.source)).toEqual(["real", "real"]);
    expect(() => choosePlugins({ FETCHML_KEYS_PLUGINS: "maybe" })).toThrow(/expected auto, real or offline/);
  });
});
