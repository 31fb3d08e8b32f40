/**
 * The SSH target's remote write script, run here by `sh` as a login that is not root (the
 * suite's sshd serves root only): the script is the one SshTarget sends, its exec() replaced by
 * a local shell. chown and chmod are wrapped to record the temp file's owner, group and mode
 * around each call: a moment someone could open it is a moment the file gives them access to.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { type FileState, neverWider, OWNER_NOT_KEPT, SERVICE, stateOf, USERS, WRITER, writersServerFile } from "../../support/fileStates";

let dir: string;
let srv: string;
let file: string;
let wrap: string;
let log: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-write-"));
  file = writersServerFile(dir);
  srv = path.dirname(file);
  wrap = path.join(dir, "bin");
  fs.mkdirSync(wrap);
  log = path.join(dir, "log", "states");
  fs.mkdirSync(path.dirname(log), { mode: 0o777 });
  fs.chmodSync(path.dirname(log), 0o777);
  for (const tool of ["chown", "chmod"]) {
    const real = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    fs.writeFileSync(
      path.join(wrap, tool),
      `#!/bin/sh\nfor a; do last=$a; done\nstat -c "before-${tool} %u %g %a" -- "$last" >> ${log} 2>/dev/null\n` +
        `${real} "$@"; rc=$?\nstat -c "after-${tool} %u %g %a" -- "$last" >> ${log} 2>/dev/null\nexit $rc\n`,
      { mode: 0o755 },
    );
  }
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** SshTarget.writeConfig, its script run by a local sh as `account` (setpriv arguments; none: root). */
function writeAs(account: string[], spec: Record<string, string> = {}): { result?: string; error?: string; states: FileState[] } {
  const script = `
    const { SshTarget } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist", "targets", "ssh.js"))});
    const { spawn } = require("child_process");
    const fs = require("fs");
    const f = ${JSON.stringify(file)};
    const t = new SshTarget({ kind: "ssh", name: "box", host: "h", port: 22, user: "deploy", hostKey: "ssh-ed25519 AAAA", configPath: f, ...${JSON.stringify(spec)} });
    t.realPath = async () => f; // the directory rule is proven against sshd (ssh.test.ts)
    t.exec = (script, stdin = "") => new Promise((resolve) => {
      const c = spawn("/bin/sh", ["-c", script], { env: { PATH: ${JSON.stringify(`${wrap}:/usr/bin:/bin`)} } });
      const out = []; let stderr = "";
      c.stdout.on("data", (b) => out.push(b)); c.stderr.on("data", (b) => (stderr += b));
      c.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
      c.stdin.end(stdin);
    });
    t.writeConfig("new\\n", fs.readFileSync(f, "utf8")).then(
      (result) => console.log(JSON.stringify({ result })),
      (e) => console.log(JSON.stringify({ error: e.constructor.name + ": " + e.message })),
    );`;
  const node = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
  const [command, args] = account.length ? ["setpriv", [...account, node, "-e", script]] : [node, ["-e", script]];
  const r = spawnSync(command, args, { encoding: "utf8" });
  expect(r.stderr).toBe("");
  const states = (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [op, uid, gid, mode] = line.split(" ");
      return { op, uid: Number(uid), gid: Number(gid), mode: parseInt(mode, 8) };
    });
  return { ...JSON.parse(r.stdout), states };
}

const login = (groups: number[]) => [
  `--reuid=${WRITER}`,
  `--regid=${USERS}`,
  groups.length ? `--groups=${groups.join(",")}` : "--clear-groups",
];

describe("the SSH target's write on the server keeps the file's owner, group and mode", () => {
  it("a non-root login in the file's group: the file stays the login's, in the service's group, 0640; the temp file never had group bits in the login's own group", () => {
    fs.chownSync(file, WRITER, SERVICE);
    fs.chmodSync(file, 0o640);
    const run = writeAs(login([USERS, SERVICE]));
    expect(run).toMatchObject({ result: "written" });
    const final = { uid: WRITER, gid: SERVICE, mode: 0o640 };
    expect(stateOf(file)).toEqual(final);
    expect(fs.readFileSync(file, "utf8")).toBe("new\n");
    expect(run.states.length).toBeGreaterThan(0);
    expect(neverWider(run.states, final, WRITER)).toEqual([]);
  });

  it("root: the file keeps its owner and group, its mode less others' bits, which the temp file never had", () => {
    fs.chownSync(file, WRITER, SERVICE);
    fs.chmodSync(file, 0o644);
    const run = writeAs([]);
    expect(run).toMatchObject({ result: "written" });
    const final = { uid: WRITER, gid: SERVICE, mode: 0o640 };
    expect(stateOf(file)).toEqual(final);
    expect(neverWider(run.states, final, 0)).toEqual([]);
  });

  it("a configured owner without a group keeps the file's group", () => {
    fs.chownSync(file, 0, SERVICE);
    fs.chmodSync(file, 0o640);
    expect(writeAs([], { owner: String(WRITER) })).toMatchObject({ result: "written" });
    expect(stateOf(file)).toEqual({ uid: WRITER, gid: SERVICE, mode: 0o640 });
  });

  it("a login that cannot give the configured owner writes nothing and says so", () => {
    fs.chownSync(file, WRITER, SERVICE);
    fs.chmodSync(file, 0o640);
    const run = writeAs(login([USERS, SERVICE]), { owner: String(SERVICE) });
    expect(run.error).toBe(
      `TargetError: box (deploy@h:22:${file}): on the server, the SSH login deploy (uid ${WRITER}) cannot give ${file} the configured owner ` +
        `${SERVICE}:${SERVICE} (servers[].owner/group), so nothing was replaced; connect as root or as that owner`,
    );
    expect([stateOf(file), fs.readFileSync(file, "utf8"), fs.readdirSync(srv)]).toEqual([
      { uid: WRITER, gid: SERVICE, mode: 0o640 },
      "old\n",
      ["server.yaml"],
    ]);
  });

  it("a login that cannot give the new file the old owner or group writes nothing, leaves no temp file, and says why and what to do", () => {
    for (const c of OWNER_NOT_KEPT) {
      fs.writeFileSync(file, "old\n");
      fs.chownSync(file, c.owner, c.group);
      fs.chmodSync(file, c.mode);
      const before = fs.statSync(file).ino;
      const run = writeAs(login(c.groups));
      expect(run.error).toBe(
        `TargetError: box (deploy@h:22:${file}): on the server, ${file} belongs to uid ${c.owner}, group gid ${c.group}; the SSH login deploy (uid ${WRITER}) ` +
          `cannot give the new file that owner and group, so nothing was replaced (the file would have changed hands). ` +
          `Run this as root, or as uid ${c.owner} with gid ${c.group} among its groups`,
      );
      expect([fs.statSync(file).ino, stateOf(file), fs.readFileSync(file, "utf8")]).toEqual([
        before,
        { uid: c.owner, gid: c.group, mode: c.mode },
        "old\n",
      ]);
      expect(fs.readdirSync(srv)).toEqual(["server.yaml"]);
    }
  });
});
