/**
 * `user handover NAME --out FILE` with a relative FILE (README: `user handover dave --out
 * dave.toml`) was resolved against the checkout, not the directory the admin ran it in
 * (scripts/env.sh goes to the checkout first): with bin/fetchml-keys linked into PATH, an admin
 * in ~/ wrote the key into the git work tree, untracked and not ignored (attack46 F6).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";

let e2e: E2EStack;
const name = `handover-cwd-${process.pid}.toml`;

beforeAll(async () => {
  e2e = await E2EStack.create({});
  const file = path.join(e2e.dir, "api.yaml");
  fs.writeFileSync(file, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig({ authConfigPath: file, preserveEntries: ["svc-backup"], users: { alice: { role: "admin" } } });
  await e2e.up();
}, 300_000);
afterAll(async () => {
  fs.rmSync(path.join(PROJECT_ROOT, name), { force: true });
  await e2e?.cleanup();
});

describe("handover --out with a relative name", () => {
  // bin/fetchml-keys (linked into PATH, README), and `npm run keys` from anywhere in or out of
  // the checkout (npm goes to the checkout first): both from a directory of the admin's.
  const routes: Record<string, string[]> = {
    "bin/fetchml-keys": [path.join(PROJECT_ROOT, "bin", "fetchml-keys")],
    "npm run keys": ["npm", "--prefix", PROJECT_ROOT, "run", "-s", "keys", "--"],
  };
  for (const [route, command] of Object.entries(routes)) {
    it(`${route}: writes the file where the admin runs the command, not into the checkout`, () => {
      const here = fs.mkdtempSync(path.join(os.tmpdir(), "handover-cwd-"));
      try {
        const r = spawnSync(command[0], [...command.slice(1), "user", "handover", "alice", "--out", name, "--stack", e2e.name], {
          cwd: here,
          env: { ...process.env, ...e2e.env },
          encoding: "utf8",
        });
        expect(r.status, r.stderr).toBe(0);
        const inCheckout = fs.existsSync(path.join(PROJECT_ROOT, name));
        const git = spawnSync("git", ["status", "--porcelain", "--", name], { cwd: PROJECT_ROOT, encoding: "utf8" }).stdout.trim();
        expect({ inWorkingDirectory: fs.existsSync(path.join(here, name)), inCheckout, git }).toEqual({
          inWorkingDirectory: true,
          inCheckout: false,
          git: "",
        });
      } finally {
        fs.rmSync(here, { recursive: true, force: true });
      }
    });
  }
});
