/** The code passes its own static checks: the type checker, ESLint (with Pulumi's rules) and Prettier. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";

const bin = (name: string) => path.join(PROJECT_ROOT, "node_modules", ".bin", name);
const run = (name: string, args: string[]) => spawnSync(bin(name), args, { cwd: PROJECT_ROOT, encoding: "utf8" });

describe("static checks", () => {
  it("type-checks (tsc --strict)", () => {
    const r = run("tsc", ["--noEmit", "-p", "."]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);

  it("passes ESLint", () => {
    const r = run("eslint", ["--max-warnings", "0", "."]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);

  it("is formatted with Prettier", () => {
    const r = run("prettier", ["--check", "--log-level", "warn", "."]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 60_000);
});
