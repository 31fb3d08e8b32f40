import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileLocked, lockFile, lockPath } from "../../../lib/fileLock";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "file-lock-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("lockFile", () => {
  it("lets one holder in at a time, and releases", () => {
    const file = path.join(dir, "a.yaml");
    const release = lockFile(file);
    expect(fs.readFileSync(lockPath(file), "utf8").trim()).toBe(String(process.pid));
    expect(() => lockFile(file)).toThrow(FileLocked);
    release();
    expect(fs.existsSync(lockPath(file))).toBe(false);
    lockFile(file)();
  });

  it("takes over the lock of a holder that no longer runs", () => {
    const file = path.join(dir, "b.yaml");
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    fs.writeFileSync(lockPath(file), `${dead.stdout}\n`);
    const release = lockFile(file);
    expect(fs.readFileSync(lockPath(file), "utf8").trim()).toBe(String(process.pid));
    release();
  });
});
