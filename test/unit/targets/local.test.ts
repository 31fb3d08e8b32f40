/**
 * The local target on real files: an admin's edit made while a step writes is never lost, and
 * the reload command gets none of the run's secrets. (The end-to-end tests prove the same
 * over SSH and through the engine; these catch a regression in a second.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROLE_PRESETS } from "../../../config/roles";
import { mergeAuthConfig } from "../../../lib/mergeAuthConfig";
import { editUntilStable } from "../../../steps/auth";
import { childEnvironment } from "../../../lib/childProcess";
import { LocalTarget } from "../../../targets/local";

const STACK = "organization/fetchml-keys/test";
const BASE = "logging:\n  level: info\nauth:\n  api_keys: {}\n";
const entry = { hash: "b".repeat(64), ...structuredClone(ROLE_PRESETS.researcher) };

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-target-"));
  file = path.join(dir, "api.yaml");
  fs.writeFileSync(file, BASE, { mode: 0o600 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const temps = () => fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"));

describe("an admin's edit made while a step writes", () => {
  it("is kept: a replace from a stale read replaces nothing", async () => {
    const io = new LocalTarget({ kind: "local", configPath: file });
    const read = await io.read();
    fs.appendFileSync(file, "# the admin's edit\n");
    expect(await io.writeConfig(`${read.config}# merged from a stale read\n`, read.config)).toBe("changed-meanwhile");
    expect(fs.readFileSync(file, "utf8")).toBe(`${BASE}# the admin's edit\n`);
    expect(temps()).toEqual([]);
  });

  it("is kept when the file did not exist at the read and the admin created it since", async () => {
    fs.rmSync(file);
    const io = new LocalTarget({ kind: "local", configPath: file });
    expect((await io.read()).config).toBeUndefined();
    fs.writeFileSync(file, "# the admin's new file\n");
    expect(await io.writeConfig(BASE, undefined)).toBe("changed-meanwhile");
    expect(fs.readFileSync(file, "utf8")).toBe("# the admin's new file\n");
  });

  it("is merged with: the step reads again, and the file ends with the admin's edit and the new entry", async () => {
    const io = new LocalTarget({ kind: "local", configPath: file });
    // The admin saves right after the step's first read.
    const readNow = io.read.bind(io);
    let edits = 1;
    io.read = async () => {
      const files = await readNow();
      if (edits-- > 0) fs.writeFileSync(file, BASE.replace("level: info", "level: debug"));
      return files;
    };
    await editUntilStable(io, STACK, (files) => ({
      result: mergeAuthConfig(files.config, new Map([["bob", entry]]), [], io.label),
      next: { format: 1, stack: STACK, writer: "w", generation: 0, reloadPending: false, managed: ["bob"] },
      verb: "REVOKED",
    }));
    const text = fs.readFileSync(file, "utf8");
    expect(text).toContain("level: debug");
    expect(text).toContain(`hash: "${"b".repeat(64)}"`);
    expect(temps()).toEqual([]);
  });
});

describe("the reload command", () => {
  const SECRETS: Record<string, string> = {
    PULUMI_CONFIG_PASSPHRASE: "passphrase-of-the-run",
    BW_SESSION: "session-of-the-run",
    BW_PASSWORD: "master-password-of-the-run",
    BW_CLIENTSECRET: "client-secret-of-the-run",
    AWS_SECRET_ACCESS_KEY: "cloud-secret-of-the-run",
    PGPASSWORD: "database-password-of-the-run",
  };

  it("gets PATH, HOME and the locale, and none of the run's secrets", async () => {
    const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
    Object.assign(process.env, SECRETS);
    const seen = path.join(dir, "reload.env");
    try {
      await new LocalTarget({ kind: "local", configPath: file, reloadCommand: `env > ${seen}` }).reload();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const env = fs.readFileSync(seen, "utf8");
    expect(Object.values(SECRETS).filter((secret) => env.includes(secret))).toEqual([]);
    expect(env).toContain(`PATH=${process.env.PATH}\n`);
  });

  it("is given an environment built from an allow-list, whatever else the run's has", () => {
    const env = childEnvironment({ ...SECRETS, PATH: "/usr/bin", HOME: "/root", LANG: "C.UTF-8", ANYTHING_ELSE: "x" });
    expect(env).toEqual({ PATH: "/usr/bin", HOME: "/root", LANG: "C.UTF-8" });
  });
});
