/**
 * `user handover NAME --out FILE` makes a NEW file, 0600 and the runner's, and never takes
 * over anything found at that name: in a directory other accounts may write to (/tmp), a file
 * or link planted between the command's check and its write makes it fail, writing nothing
 * there. The race is made deterministic: the plant happens right after the check says "absent".
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { createNewFile } from "../../../lib/atomicFile";
import { userName } from "../../../lib/safePath";
import { NOBODY, PYTHON_AS_NOBODY, pythonAsNobody } from "../../support/nobody";

const KEY = 'api_key = "K3y0fAl1ceK3y0fAl1ceK3y0fAl1ceK3y0fAl1ceK3y0fAl1"\n';
const NODE = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");

let dir: string;
let out: string;
let victim: string;
beforeEach(() => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "handover-"));
  fs.chmodSync(base, 0o755);
  dir = path.join(base, "tmp");
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o1777); // like /tmp: every account may create names here
  out = path.join(dir, "alice.toml");
  victim = path.join(base, "victim");
  fs.writeFileSync(victim, "root's file\n", { mode: 0o600 });
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

/** What another account (or root) puts at the name: a file of its own, 0666, or a link. */
type Plant = "root file" | "nobody's file" | "nobody's link" | "nobody's dangling link";

/** Plants it at `out`, as that account: returns a JS snippet for the child and runs it here for the primitive. */
function plantScript(plant: Plant): string {
  const py =
    plant === "nobody's link"
      ? `import os; os.symlink(${JSON.stringify(victim)}, ${JSON.stringify(out)})`
      : plant === "nobody's dangling link"
        ? `import os; os.symlink(${JSON.stringify(`${victim}.missing`)}, ${JSON.stringify(out)})`
        : `import os; fd = os.open(${JSON.stringify(out)}, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666); os.fchmod(fd, 0o666); os.close(fd)`;
  return JSON.stringify([...(plant === "root file" ? ["/usr/bin/python3"] : PYTHON_AS_NOBODY), "-c", py]);
}

function plantNow(plant: Plant): void {
  const [command, ...args] = JSON.parse(plantScript(plant)) as string[];
  const r = spawnSync(command, args, { encoding: "utf8" });
  expect(r.stderr).toBe("");
}

/** What is at `out` now: owner, mode, link or content. */
function planted(): { uid: number; link?: string; content?: string } {
  const s = fs.lstatSync(out);
  return s.isSymbolicLink() ? { uid: s.uid, link: fs.readlinkSync(out) } : { uid: s.uid, content: fs.readFileSync(out, "utf8") };
}

const PLANTS: Plant[] = ["root file", "nobody's file", "nobody's link", "nobody's dangling link"];

describe("createNewFile", () => {
  it("creates the file 0600, this account's, with exactly the content, and leaves nothing else", () => {
    const umask = process.umask(0o022);
    try {
      createNewFile(out, KEY);
    } finally {
      process.umask(umask);
    }
    const s = fs.lstatSync(out);
    expect([s.isFile(), s.uid, s.mode & 0o7777, s.nlink, fs.readFileSync(out, "utf8")]).toEqual([true, 0, 0o600, 1, KEY]);
    expect(fs.readdirSync(dir)).toEqual(["alice.toml"]);
  });

  // attack46 F3: a try killed between writing and linking (kill -9) left its temp file, holding
  // the key, and nothing ever removed it. The next try at that name removes this account's.
  it("removes the temp file a killed try at the name left (this account's only; another's stays)", () => {
    const dead = spawnSync(NODE, ["-e", "0"]).pid!;
    const ours = path.join(dir, `.alice.toml.${dead}.0123abcd.tmp`);
    const theirs = path.join(dir, `.alice.toml.${dead}.4567cdef.tmp`);
    fs.writeFileSync(ours, KEY, { mode: 0o600 });
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(ours, past, past);
    pythonAsNobody(`open(${JSON.stringify(theirs)}, "w").write("theirs")`);
    createNewFile(out, KEY);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(theirs), "alice.toml"].sort());
  });

  for (const plant of PLANTS) {
    it(`fails with EEXIST when ${plant} appears at the name while the file is written, and leaves it as it is`, () => {
      let thrown: NodeJS.ErrnoException | undefined;
      try {
        createNewFile(out, KEY, { beforeLink: () => plantNow(plant) });
      } catch (e) {
        thrown = e as NodeJS.ErrnoException;
      }
      expect(thrown?.code).toBe("EEXIST");
      const found = planted();
      expect(found.uid).toBe(plant === "root file" ? 0 : NOBODY);
      if (found.link === undefined) expect(found.content).toBe("");
      expect(fs.readFileSync(victim, "utf8")).toBe("root's file\n");
      expect(fs.readdirSync(dir)).toEqual(["alice.toml"]); // no temp file left, holding the key
    });
  }
});

/**
 * The built `user handover alice --out FILE` in a process of its own, with a stack whose only
 * output is alice's ml config. `plant`: put there right after the command's own check found the
 * name free. Every write of the key is recorded with the owner and mode of the file it went into.
 */
function handover(plant?: Plant, target = out): { code?: number; error?: string; writes: { uid: number; mode: number }[] } {
  const script = `
    const fs = require("fs");
    const { spawnSync } = require("child_process");
    const { userCommand } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist", "cli", "user.js"))});
    const out = ${JSON.stringify(target)};
    const plant = ${plant ? plantScript(plant) : "undefined"};
    let planted = !plant;
    for (const name of ["existsSync", "lstatSync", "statSync"]) {
      const real = fs[name];
      fs[name] = function (file, ...rest) {
        const r = real.call(this, file, ...rest);
        if (!planted && file === out && !r) { planted = true; spawnSync(plant[0], plant.slice(1)); }
        return r;
      };
    }
    const writes = [];
    for (const name of ["writeFileSync", "writeSync"]) {
      const real = fs[name];
      fs[name] = function (fd, data, ...rest) {
        const r = real.call(this, fd, data, ...rest);
        if (typeof fd === "number" && String(data).includes("K3y0fAl1ce")) { const s = fs.fstatSync(fd); writes.push({ uid: s.uid, mode: s.mode & 0o7777 }); }
        return r;
      };
    }
    const stack = { outputs: async () => ({ mlConfigs: { value: { alice: ${JSON.stringify(KEY)} }, secret: true } }) };
    userCommand(["handover", "alice"], { out }, { stack }).then(
      (code) => console.log(JSON.stringify({ code, writes })),
      (e) => console.log(JSON.stringify({ error: e.constructor.name + ": " + e.message, writes })),
    );`;
  const r = spawnSync(NODE, ["-e", script], { encoding: "utf8" });
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

describe("user handover --out", () => {
  it("writes a new 0600 file of the runner's holding the ml config", () => {
    const r = handover();
    // The key went into files of root's, 0600, only (each write recorded; writeFileSync calls writeSync).
    expect({ code: r.code, into: [...new Set(r.writes.map((w) => `${w.uid} ${w.mode.toString(8)}`))] }).toEqual({
      code: 0,
      into: ["0 600"],
    });
    const s = fs.lstatSync(out);
    expect([s.uid, s.mode & 0o7777, fs.readFileSync(out, "utf8")]).toEqual([0, 0o600, KEY]);
  });

  it("refuses a name already taken, a dangling link included, and writes nothing", () => {
    fs.symlinkSync(`${victim}.missing`, out);
    expect(handover()).toEqual({ error: `UserCommandError: ${out} exists; choose a new file (it is created 0600)`, writes: [] });
    expect(fs.readdirSync(dir)).toEqual(["alice.toml"]);
  });

  it("refuses a file whose way passes through another account's directory (dave made ~/.ml a link), writing nothing anywhere", () => {
    const base = path.dirname(dir);
    const rootOnly = path.join(base, "root-only");
    fs.mkdirSync(rootOnly, { mode: 0o700 });
    const home = path.join(base, "home", "dave");
    fs.mkdirSync(home, { recursive: true });
    fs.chownSync(home, NOBODY, NOBODY);
    expect(pythonAsNobody(`import os; os.symlink(${JSON.stringify(rootOnly)}, ${JSON.stringify(path.join(home, ".ml"))})`)).toBe("");
    const target = path.join(home, ".ml", "config.toml");
    expect(handover(undefined, target)).toEqual({
      error:
        `UserCommandError: ${target}: ${home} belongs to ${userName(NOBODY)}, so that account could choose where the file is made; ` +
        "nothing was written. Choose a file in a directory of yours (such as ./alice.toml), then hand it over from there",
      writes: [],
    });
    expect([fs.readdirSync(rootOnly), fs.readdirSync(home)]).toEqual([[], [".ml"]]);
  });

  for (const plant of PLANTS) {
    it(`fails when ${plant} is planted between its check and its write; the key only ever goes into a 0600 file of the runner's`, () => {
      const r = handover(plant);
      expect(r.error).toBe(`UserCommandError: ${out} exists; choose a new file (it is created 0600)`);
      expect(r.writes.filter((w) => w.uid !== 0 || w.mode !== 0o600)).toEqual([]);
      const found = planted();
      expect(found.uid).toBe(plant === "root file" ? 0 : NOBODY);
      if (found.link === undefined) expect(found.content).toBe("");
      expect(fs.readFileSync(victim, "utf8")).toBe("root's file\n");
      expect(fs.readdirSync(dir)).toEqual(["alice.toml"]);
    });
  }
});
