/**
 * A check of scripts/isolated.sh failing the way a failed fork fails ("Cannot fork", "fork
 * failed: Resource temporarily unavailable"). Process ids are one pool for the machine, and
 * another account can hold every free one: root's run then went unisolated (attack44: 11 of 27
 * runs with a pids cgroup standing in for the pool; uid 65534 read the keys from the engine's
 * port in 2). Each case makes one check fail so, and expects nothing to run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";

const SCRIPT = path.join(PROJECT_ROOT, "scripts", "isolated.sh");
const NODE = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
const env = { ...process.env } as Record<string, string | undefined>;
delete env.FETCHML_KEYS_ISOLATED;
delete env.FETCHML_KEYS_ISOLATION;
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "isolated-probe-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in on PATH for `name` that fails like a failed fork when its arguments match, else runs the real one. */
function failing(name: string, real: string, match: string, message: string): string {
  const fakes = fs.mkdtempSync(path.join(dir, "fakes-"));
  fs.writeFileSync(
    path.join(fakes, name),
    `#!/bin/sh\ncase " $* " in *"${match}"*) echo "${message}" >&2; exit 1 ;; esac\nexec ${real} "$@"\n`,
    { mode: 0o755 },
  );
  return fakes;
}

describe("a check of isolated.sh that another account can make fail", () => {
  it.each([
    {
      check: "the namespace probe (unshare: fork failed)",
      fakes: () => failing("unshare", "/usr/bin/unshare", " --mount-proc true ", "unshare: fork failed: Resource temporarily unavailable"),
    },
    {
      check: "env --default-signal (sh: Cannot fork)",
      fakes: () => failing("env", "/usr/bin/env", "--default-signal=INT true", "sh: 1: Cannot fork"),
    },
    {
      check: "uname -s printing nothing (sh: Cannot fork)",
      fakes: () => failing("uname", "/usr/bin/uname", "-s", "sh: 1: Cannot fork"),
    },
  ])("refuses, running nothing, when $check fails", ({ fakes }) => {
    const ran = path.join(dir, `ran-${Math.random()}`);
    const r = spawnSync("sh", [SCRIPT, NODE, "-e", `require("fs").writeFileSync(${JSON.stringify(ran)}, "ran")`], {
      encoding: "utf8",
      env: { ...env, PATH: `${fakes()}:${process.env.PATH}` },
      timeout: 30_000,
    });
    expect({ ran: fs.existsSync(ran), stderr: r.stderr.trim() }).toEqual({ ran: false, stderr: expect.stringMatching(/refused/) });
    expect(r.status).not.toBe(0);
  });
});
