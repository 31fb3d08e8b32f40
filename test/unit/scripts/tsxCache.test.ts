/**
 * tsx keeps compiled code in $TMPDIR/tsx-<uid> and runs what it finds there. In a shared /tmp
 * another account can create that directory first (after a reboot or a tmp cleaner) and later
 * replace an entry with code of its own, which root's next run would execute (found by an
 * attack as uid 65534 on the runner and the steps). The entry points run tsx without its cache:
 * a run leaves no compiled file there to replace, and reads none.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../../..");
const run = promisify(execFile);
let tmp: string;
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Regular files under TMPDIR after the command: tsx's cache entries, if it kept any. */
async function cacheFilesAfter(command: string, args: string[]): Promise<string[]> {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsx-cache-"));
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, PATH: `${root}/node_modules/.bin:${process.env.PATH}` };
  delete env.TSX_DISABLE_CACHE;
  await run(command, args, { cwd: root, env, timeout: 60_000 }).catch((e: { code?: number }) => e);
  return fs
    .readdirSync(tmp, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => d.name);
}

describe("no tsx compile cache in a shared TMPDIR", () => {
  it("the step entry point (bin/fetchml-keys-step) writes none", async () => {
    expect(await cacheFilesAfter(path.join(root, "bin/fetchml-keys-step"), ["nosuch"])).toEqual([]);
  });

  it("the runner (scripts/fetchml-keys.sh) writes none, and hands the setting to what it starts", async () => {
    expect(await cacheFilesAfter("sh", [path.join(root, "scripts/fetchml-keys.sh"), "help"])).toEqual([]);
    const script = fs.readFileSync(path.join(root, "scripts/fetchml-keys.sh"), "utf8");
    expect(script).toMatch(/^export TSX_DISABLE_CACHE$/m);
  });

  it("each offline plugin's launcher runs tsx without its cache", () => {
    for (const dir of ["random", "command", "language-nodejs"]) {
      const bin = path.join(root, "plugins", dir, "bin");
      for (const name of fs.readdirSync(bin)) {
        expect(fs.readFileSync(path.join(bin, name), "utf8"), name).toMatch(/TSX_DISABLE_CACHE=1 exec .*tsx/);
      }
    }
  });
});
