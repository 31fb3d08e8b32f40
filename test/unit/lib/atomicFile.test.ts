/** The replace itself, proven on real files and a real process killed at the worst moment. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { replaceFile } from "../../../lib/atomicFile";

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "atomic-"));
  file = path.join(dir, "api.yaml");
  fs.writeFileSync(file, "old\n", { mode: 0o640 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("replaceFile", () => {
  it("replaces by rename: a new inode, and a reader that opened the old file still reads the old content", () => {
    const before = fs.statSync(file).ino;
    const reader = fs.openSync(file, "r");
    expect(replaceFile(file, "new\n", { expected: "old\n" })).toBe("written");
    expect(fs.statSync(file).ino).not.toBe(before);
    expect(fs.readFileSync(reader, "utf8")).toBe("old\n");
    fs.closeSync(reader);
    expect(fs.readFileSync(file, "utf8")).toBe("new\n");
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
  });

  it("leaves the old file when the process is killed after the new content is complete, before the rename", async () => {
    const marker = path.join(dir, "ready");
    // A writer that stops, temp file complete and synced, right before the rename.
    const script = `
      const fs = require("fs");
      const { replaceFile } = require(${JSON.stringify(path.join(PROJECT_ROOT, "lib", "atomicFile.ts"))});
      replaceFile(${JSON.stringify(file)}, "new\\n", { expected: "old\\n", beforeRename: () => {
        fs.writeFileSync(${JSON.stringify(marker)}, "");
        const until = Date.now() + 30000; while (Date.now() < until) {}
      } });`;
    // Its own process group: tsx runs the script in a child node, and both must die at once.
    const child = spawn(path.join(PROJECT_ROOT, "node_modules", ".bin", "tsx"), ["-e", script], { stdio: "ignore", detached: true });
    const exited = new Promise((r) => child.on("exit", r));
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(fs.existsSync(marker)).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")).length).toBe(1); // the complete new content
    process.kill(-child.pid!, "SIGKILL");
    await exited;
    const writer = Number(/\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(fs.readdirSync(dir).find((n) => n.endsWith(".tmp"))!)![1]);
    while (fs.existsSync(`/proc/${writer}`)) await new Promise((r) => setTimeout(r, 10));
    expect(fs.readFileSync(file, "utf8")).toBe("old\n");
    // The next writer removes the dead writer's temp file (it may hold hashes).
    replaceFile(file, "next\n", { expected: "old\n" });
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  }, 60_000);

  it("replaces nothing when the file changed after it was read (an admin's edit), and keeps that edit", () => {
    expect(
      replaceFile(file, "merged from a stale read\n", { expected: "old\n", beforeRename: () => fs.writeFileSync(file, "admin's edit\n") }),
    ).toBe("changed-meanwhile");
    expect(fs.readFileSync(file, "utf8")).toBe("admin's edit\n");
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
