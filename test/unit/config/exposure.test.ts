/** Set-ups that would expose keys are refused before anything is read or declared. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DEV_PASSPHRASE, exposureProblems } from "../../../config/exposure";
import { parseSettings } from "../../../config/settings";

const settings = (over: Record<string, unknown> = {}) => parseSettings({ authConfigPath: "/x", users: { a: { role: "admin" } }, ...over });

describe("exposureProblems", () => {
  it("refuses the demo passphrase on any stack but dev, given directly or in the file PULUMI_CONFIG_PASSPHRASE_FILE names", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pass-")), "p");
    fs.writeFileSync(file, `${DEV_PASSPHRASE}\n`);
    expect(exposureProblems(settings(), "prod", { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE })).toEqual([
      "stack prod: encrypted with the public demo passphrase; use a passphrase of your own (or another secrets provider)",
    ]);
    expect(exposureProblems(settings(), "prod", { PULUMI_CONFIG_PASSPHRASE_FILE: file })).toHaveLength(1);
    expect(exposureProblems(settings(), "dev", { PULUMI_CONFIG_PASSPHRASE_FILE: file })).toEqual([]);
    expect(exposureProblems(settings(), "prod", { PULUMI_CONFIG_PASSPHRASE: "mine" })).toEqual([]);
  });

  it("refuses a delivery directory others can read, or that belongs to another user", () => {
    const stat = (mode: number, uid: number) => () => ({ mode: 0o40000 | mode, uid }) as fs.Stats;
    const s = settings({ deliveryDir: "/d" });
    expect(exposureProblems(s, "dev", {}, stat(0o700, 0), 0)).toEqual([]);
    expect(exposureProblems(s, "dev", {}, stat(0o750, 0), 0)).toEqual(['deliveryDir: "/d" is readable by others (mode 750); chmod 700 it']);
    expect(exposureProblems(s, "dev", {}, stat(0o700, 65534), 0)).toEqual([
      'deliveryDir: "/d" belongs to uid 65534, not to this user (uid 0); keys are never written there',
    ]);
  });

  // Found by an attack as uid 65534: the preview accepted a delivery directory inside a
  // directory that account owns, which let it swap the directory during the write.
  it("refuses a delivery directory under a directory another account owns, naming it and what to change", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "exposure-"));
    const parent = path.join(root, "theirs");
    fs.mkdirSync(parent, { mode: 0o755 });
    fs.chownSync(parent, 65534, 65534);
    try {
      const problems = exposureProblems(settings({ deliveryDir: path.join(parent, "deliver") }), "dev", {});
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(`${parent} belongs to`);
      expect(problems[0]).toContain(`chown root ${parent}`);
      fs.chownSync(parent, 0, 0);
      expect(exposureProblems(settings({ deliveryDir: path.join(parent, "deliver") }), "dev", {})).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
