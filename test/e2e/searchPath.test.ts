/**
 * A PATH directory another account can write, where the run starts programs by name: a local
 * reload command's words (the admin may be root) and bw. uid 65534 puts a program of the reload
 * command's name there; before, `up` ran it as root (1 of 1). Now the preview refuses, naming
 * the directory, and nothing runs or changes; both ways of running.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { plantAsNobody, sharedBin } from "../support/nobody";
import { expectUnchanged } from "../support/secrets";

const BASE = "auth:\n  enabled: true\n  api_keys: {}\nlogging:\n  level: info\n";
let e2e: E2EStack | undefined;
let shared: string;
const pathBefore = process.env.PATH;

afterEach(async () => {
  process.env.PATH = pathBefore;
  await e2e?.cleanup();
  fs.rmSync(shared, { recursive: true, force: true });
});

describe.each(["runner", "plain"] as const)("a PATH directory others can write (%s)", (via) => {
  it("refuses at preview when a local reload command would be looked up there; the planted program never runs", async () => {
    const { root, bin } = sharedBin("fetchml-path-");
    shared = root;
    const marker = path.join(bin, "ran-as");
    const planted = path.join(bin, "fetchml-reload-probe");
    plantAsNobody(planted, `#!/bin/sh\nid -u > ${marker}\n`);

    e2e = await E2EStack.create({}, { via });
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
    // Before the plugin directories the stack's own PATH starts with: the shared directory is searched first.
    e2e.setProgramEnv("PATH", `${bin}:${e2e.env.PATH}`);
    e2e.setConfig({ authConfigPath: serverFile, reloadCommand: "fetchml-reload-probe", users: { alice: { role: "admin" } } });
    await expect(e2e.up()).rejects.toThrow();
    expect(e2e.output()).toContain(
      `PATH: ${bin}: ${bin} is writable by every account (mode 777): another account could put a program there`,
    );
    expect(fs.existsSync(marker), "the planted program ran").toBe(false);
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), BASE, "the server config");
  });

  it("refuses at preview for the admin's own bw (bitwarden.cli: a script's env node is looked up there), before any bw starts", async () => {
    const { root, bin } = sharedBin("fetchml-path-");
    shared = root;
    e2e = await E2EStack.create({}, { via });
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
    e2e.setProgramEnv("PATH", `${bin}:${e2e.env.PATH}`);
    const org = "6482c696-db35-4f9a-b818-2c0e2f3c9d10";
    e2e.setConfig({
      authConfigPath: serverFile,
      bitwarden: { organizationId: org, collectionIds: ["95ed2272-f909-44fc-b935-9a7260582fc7"], cli: "/bin/true" },
      users: { alice: { role: "admin", delivery: "bitwarden" } },
    });
    await expect(e2e.preview()).rejects.toThrow();
    expect(e2e.output()).toContain(
      `PATH: ${bin}: ${bin} is writable by every account (mode 777): another account could put a program there that bitwarden.cli would start`,
    );
  });
});
