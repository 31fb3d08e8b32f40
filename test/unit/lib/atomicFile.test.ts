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
      const { replaceFile } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist", "lib", "atomicFile.js"))});
      replaceFile(${JSON.stringify(file)}, "new\\n", { expected: "old\\n", beforeRename: () => {
        fs.writeFileSync(${JSON.stringify(marker)}, "");
        const until = Date.now() + 30000; while (Date.now() < until) {}
      } });`;
    // The built module (npm run build), as the steps run it; in its own process group, killed whole.
    const child = spawn(path.join(PROJECT_ROOT, "node_modules", ".bin", "node"), ["-e", script], { stdio: "ignore", detached: true });
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

  it("creates the temp file 0600: it is never readable by others, not even before its mode is set", () => {
    const born: number[] = [];
    const open = (f: string, flags: number, mode: number) => {
      const fd = fs.openSync(f, flags, mode);
      born.push(fs.fstatSync(fd).mode & 0o777); // the mode at the instant of creation
      return fd;
    };
    const umask = process.umask(0o022); // an admin's usual umask: it would let 0644 through
    try {
      expect(replaceFile(file, "new\n", { expected: "old\n", open })).toBe("written");
      expect(replaceFile(path.join(dir, "fresh.yaml"), "new\n", { expected: undefined, open })).toBe("written");
    } finally {
      process.umask(umask);
    }
    expect(born).toEqual([0o600, 0o600]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
  });

  it("installs only the bytes it wrote: a temp file changed or replaced before the rename is never installed", () => {
    const appended = () =>
      replaceFile(file, "new\n", { expected: "old\n", beforeRename: (temp) => fs.appendFileSync(temp, "injected: true\n") });
    expect(appended).toThrow(`${file}: the new content was changed before it was installed; nothing was replaced`);
    const swapped = () =>
      replaceFile(file, "new\n", {
        expected: "old\n",
        beforeRename: (temp) => {
          fs.writeFileSync(`${temp}.other`, "new\n");
          fs.renameSync(`${temp}.other`, temp); // same bytes, another file
        },
      });
    expect(swapped).toThrow(/the new content was changed before it was installed/);
    expect(fs.readFileSync(file, "utf8")).toBe("old\n");
    expect(fs.readdirSync(dir)).toEqual(["api.yaml"]);
  });

  it("never writes through a link put in the file's place, before or during the write", () => {
    const victim = path.join(dir, "victim");
    fs.writeFileSync(victim, "victim\n", { mode: 0o600 });
    fs.rmSync(file);
    fs.symlinkSync(victim, file);
    expect(() => replaceFile(file, "new\n", { expected: "victim\n" })).toThrow(
      `${file}: is not a regular file (a link put in its place?); nothing was replaced`,
    );
    fs.rmSync(file);
    fs.writeFileSync(file, "old\n");
    const during = replaceFile(file, "new\n", {
      expected: "old\n",
      beforeRename: () => {
        fs.rmSync(file);
        fs.symlinkSync(victim, file);
      },
    });
    expect(during).toBe("changed-meanwhile");
    expect(fs.readFileSync(victim, "utf8")).toBe("victim\n");
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
  });

  it("replaces nothing when the file changed after it was read (an admin's edit), and keeps that edit", () => {
    expect(
      replaceFile(file, "merged from a stale read\n", { expected: "old\n", beforeRename: () => fs.writeFileSync(file, "admin's edit\n") }),
    ).toBe("changed-meanwhile");
    expect(fs.readFileSync(file, "utf8")).toBe("admin's edit\n");
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
