/** The replace itself, proven on real files and a real process killed at the worst moment. */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { replaceFile } from "../../../lib/atomicFile";
import { type FileState, neverWider, OWNER_NOT_KEPT, SERVICE, stateOf, USERS, WRITER, writersServerFile } from "../../support/fileStates";

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

  // Another writer of the file takes a temp file for a killed writer's when it cannot see the
  // pid that named it (each isolated run has a PID namespace of its own) and removes it.
  it("a temp file removed under it (another writer cleaning up): nothing replaced, merged again; a record says so", () => {
    const vanish = (temp: string) => fs.rmSync(temp);
    expect(replaceFile(file, "new\n", { expected: "old\n", beforeRename: vanish })).toBe("changed-meanwhile");
    expect(fs.readFileSync(file, "utf8")).toBe("old\n");
    // Unchecked writes (records) have no caller that merges again: they fail, saying what happened.
    expect(() => replaceFile(file, "new\n", { unchecked: true, beforeRename: vanish })).toThrow(
      `${file}: its temp file was removed before it was installed (by another run writing this file, which took it for a killed run's); nothing was replaced, run again`,
    );
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

/**
 * Runs the built replaceFile in a process of its own, as `account` (setpriv arguments; none:
 * root), recording the temp file's owner, group and mode after each call on it: a moment when
 * someone could open it is a moment the file gives that access to, for as long as they keep it.
 */
function replaceAs(account: string[], target: string, content: string): { result?: string; error?: string; states: FileState[] } {
  const script = `
    const fs = require("fs");
    const { replaceFile } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist", "lib", "atomicFile.js"))});
    const states = [];
    let temp;
    const note = (op) => { const s = fs.fstatSync(temp); states.push({ op, uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, size: s.size }); };
    for (const name of ["writeFileSync", "writeSync", "fchmodSync", "fchownSync", "fsyncSync", "closeSync"]) {
      const real = fs[name];
      fs[name] = function (fd, ...rest) {
        if (name === "closeSync" && fd === temp) temp = undefined;
        const r = real.call(this, fd, ...rest);
        if (fd === temp) note(name);
        return r;
      };
    }
    const open = (f, flags, mode) => { temp = fs.openSync(f, flags, mode); note("open"); return temp; };
    const out = { states };
    try { out.result = replaceFile(${JSON.stringify(target)}, ${JSON.stringify(content)}, { expected: fs.readFileSync(${JSON.stringify(target)}, "utf8"), open }); }
    catch (e) { out.error = e.constructor.name + ": " + e.message; }
    console.log(JSON.stringify(out));`;
  const node = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
  const [command, args] = account.length ? ["setpriv", [...account, node, "-e", script]] : [node, ["-e", script]];
  const r = spawnSync(command, args, { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout);
}

describe("replaceFile keeps the old file's owner, group and mode, for root and any other account", () => {
  let srv: string;
  beforeEach(() => {
    file = writersServerFile(dir);
    srv = path.dirname(file);
  });
  const admin = (groups: number[]) => [
    `--reuid=${WRITER}`,
    `--regid=${USERS}`,
    groups.length ? `--groups=${groups.join(",")}` : "--clear-groups",
  ];

  it("a non-root admin in the file's group: the new file is the admin's, in the service's group, 0640, and never was in the admin's own group with group bits", () => {
    fs.chownSync(file, WRITER, SERVICE);
    fs.chmodSync(file, 0o640);
    const run = replaceAs(admin([USERS, SERVICE]), file, "new\n");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("written");
    const final = { uid: WRITER, gid: SERVICE, mode: 0o640 };
    expect(stateOf(file)).toEqual(final);
    expect(fs.readFileSync(file, "utf8")).toBe("new\n");
    expect(neverWider(run.states, final, WRITER)).toEqual([]);
  });

  it("root: another account's file keeps its owner and group, and the temp file never has group bits while root's group is its group", () => {
    fs.chownSync(file, WRITER, SERVICE);
    fs.chmodSync(file, 0o644);
    const run = replaceAs([], file, "new\n");
    expect(run.result).toBe("written");
    const final = { uid: WRITER, gid: SERVICE, mode: 0o640 }; // less others' bits
    expect(stateOf(file)).toEqual(final);
    expect(neverWider(run.states, final, 0)).toEqual([]);
  });

  it("refuses, replacing nothing and leaving no temp file, where a non-root admin cannot give the new file the old owner or group", () => {
    for (const c of OWNER_NOT_KEPT) {
      fs.writeFileSync(file, "old\n");
      fs.chownSync(file, c.owner, c.group);
      fs.chmodSync(file, c.mode);
      const before = fs.statSync(file);
      const run = replaceAs(admin(c.groups), file, "new\n");
      expect(run.result).toBeUndefined();
      expect(run.error).toBe(
        `OwnerNotKeptError: ${file} belongs to uid ${c.owner}, group gid ${c.group}; this account (uid ${WRITER}) cannot give the new file ` +
          `that owner and group, so nothing was replaced (the file would have changed hands). Run this as root, or as uid ${c.owner} with gid ${c.group} among its groups`,
      );
      const after = fs.statSync(file);
      expect([after.ino, stateOf(file)]).toEqual([before.ino, { uid: c.owner, gid: c.group, mode: c.mode }]);
      expect(fs.readFileSync(file, "utf8")).toBe("old\n");
      expect(fs.readdirSync(srv)).toEqual(["server.yaml"]);
    }
  });
});

describe("a killed writer's temp file", () => {
  it("is removed by the next writer even when its pid now belongs to a process started since (pids recur run after run), never while its writer runs", async () => {
    const tempOf = (pid: number) => path.join(dir, `.api.yaml.${pid}.0123abcd.tmp`);
    const live = spawn("sleep", ["60"], { stdio: "ignore" }); // a writer still at work: started before it wrote
    const reused = spawn("sleep", ["60"], { stdio: "ignore" }); // a process that got a killed writer's pid
    try {
      await new Promise((r) => setTimeout(r, 100));
      fs.writeFileSync(tempOf(live.pid!), "hashes\n", { mode: 0o600 });
      fs.writeFileSync(tempOf(reused.pid!), "hashes\n", { mode: 0o600 });
      const before = new Date(Date.now() - 10_000); // written by the killed writer, before this process started
      fs.utimesSync(tempOf(reused.pid!), before, before);
      expect(replaceFile(file, "new\n", { expected: "old\n" })).toBe("written");
      expect(fs.readdirSync(dir).sort()).toEqual(["api.yaml", path.basename(tempOf(live.pid!))].sort());
    } finally {
      live.kill();
      reused.kill();
    }
  });
});
