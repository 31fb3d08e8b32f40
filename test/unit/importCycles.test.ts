/** No module imports itself through others (lazy `import()` and `import type` count): each type lives with its owner. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { importCycles, sourceFiles } from "../support/importGraph";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-keys-cycles-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("import graph", () => {
  it("has no import cycles in the project's TypeScript", () => {
    expect(sourceFiles(PROJECT_ROOT).length).toBeGreaterThan(100);
    expect(importCycles(PROJECT_ROOT)).toEqual([]);
  });

  it("finds a cycle held apart by a lazy import, through a type-only import too", () => {
    const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
    write("io.ts", 'export async function open() {\n  return (await import("./ssh")).x;\n}\n');
    write("ssh.ts", 'import type { T } from "./local";\nexport const x: T = 1;\n');
    write("local.ts", 'import { open } from "./io";\nexport type T = number;\nvoid open;\n');
    write("alone.ts", 'import { x } from "./ssh";\nexport const y = x;\n');
    expect(importCycles(dir)).toEqual([["io.ts", "ssh.ts", "local.ts"]]);
  });
});
