/** The code passes its own static checks: the type checker, ESLint (with Pulumi's rules) and Prettier. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
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

  it("compares keys, hashes and files holding them only through test/support/secrets.ts, so no failure prints one", () => {
    // The test server's own suite uses made-up passwords; everything else handles real keys.
    const files = ["test/e2e", "test/unit/components"].flatMap((dir) =>
      fs
        .readdirSync(path.join(PROJECT_ROOT, dir))
        .filter((f) => f.endsWith(".test.ts") && f !== "bitwardenServer.test.ts")
        .map((f) => path.join(dir, f)),
    );
    const risky =
      /expect\([^;]*(\.hash\b|apiKeys?\b|password|readFileSync|readServer\(\))[^;]*\)\s*\.(not\.)?(toBe|toEqual|toContain|toMatchObject|toStrictEqual)\((?!true|false|0\)|\[\]|undefined|null)/;
    const offending = files.flatMap((file) =>
      fs
        .readFileSync(path.join(PROJECT_ROOT, file), "utf8")
        .split("\n")
        .map((line, i) => ({ line, at: `${file}:${i + 1}` }))
        // Safe shapes: names only (Object.keys), the fixtures' made-up hashes, an empty file, modes and times.
        .filter(
          ({ line }) =>
            risky.test(line) && !/withoutManagedEntries|Object\.keys\(|SERVICE_HASH|MALLORY_HASH|\.toBe\(""\)|\.mode|mtimeMs/.test(line),
        )
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(offending).toEqual([]);
  });

  it("takes expected hashes from test/support/oracle.ts, never from the program's own lib/keys (only its own test imports it)", () => {
    const walk = (dir: string): string[] =>
      fs.readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = path.join(dir, e.name);
        return e.isDirectory() ? walk(rel) : e.name.endsWith(".ts") ? [rel] : [];
      });
    const importsKeys = /from "(\.\.\/)+lib\/keys"/;
    const using = walk("test").filter(
      (file) =>
        file !== path.join("test", "unit", "lib", "keys.test.ts") &&
        importsKeys.test(fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8")),
    );
    expect(using).toEqual([]);
  });
});
