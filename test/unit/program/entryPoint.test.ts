/**
 * The entry point as @pulumi/pulumi's cmd/run loads it for a CommonJS project: `require` the
 * package's `main` (the built dist/index.js) and call the module export, but only if the
 * export itself is a function. A module whose
 * export is `{ default: fn }` runs no program at all under plain `pulumi up`.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";

describe("the entry point", () => {
  it("is CommonJS and exports the program function itself, as cmd/run requires", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
    expect(pkg.type ?? "commonjs").toBe("commonjs");
    // run.js: `programExport = require(program); programExport instanceof Function ? programExport() : ...`
    const shape = execFileSync(
      path.join(PROJECT_ROOT, "node_modules", ".bin", "node"),
      [
        "-e",
        `const m = require(${JSON.stringify(path.join(PROJECT_ROOT, pkg.main))}); console.log(m instanceof Function ? "function" : typeof m)`,
      ],
      { cwd: PROJECT_ROOT, encoding: "utf8" },
    ).trim();
    expect(shape).toBe("function");
  });
});
