/** Which paths another account could redirect (sshd's StrictModes rule), on real directories (as root, like the suite). */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { assertSafePath, newFileProblem, OWNERS_VARIABLE, ownersOnTheWay, searchPathProblems, untrustedGroup } from "../../../lib/safePath";
import { AS_NOBODY, NOBODY, pythonAsNobody } from "../../support/nobody";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-path-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const mkdir = (name: string, mode = 0o755, owner = process.geteuid!()) => {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  fs.chmodSync(d, mode);
  if (owner !== process.geteuid!()) fs.chownSync(d, owner, owner);
  return d;
};

describe("newFileProblem (a new file made by createNewFile, such as a handed-over key)", () => {
  it("accepts a shared sticky directory such as /tmp as the file's own, refuses one others can write or own, and a link they made", () => {
    expect(newFileProblem(path.join(mkdir("tmp", 0o1777), "alice.toml"))).toBeUndefined();
    expect(newFileProblem(path.join(mkdir("open", 0o777), "alice.toml"))).toBe(`${dir}/open is writable by every account (mode 777)`);
    expect(newFileProblem(path.join(mkdir("team", 0o775), "alice.toml"))).toMatch(new RegExp(`^${dir}/team is writable by group `));
    const home = mkdir("home/dave", 0o755, NOBODY);
    expect(newFileProblem(path.join(home, "alice.toml"))).toBe(`${home} belongs to nobody (uid ${NOBODY})`);
    // A link in a root-owned sticky directory, made by another account: its target decides nothing.
    fs.chmodSync(dir, 0o755);
    const mine = mkdir("mine", 0o700);
    const shared = mkdir("shared", 0o1777);
    expect(pythonAsNobody(`import os; os.symlink(${JSON.stringify(mine)}, ${JSON.stringify(`${shared}/ml`)})`)).toBe("");
    expect(newFileProblem(path.join(shared, "ml", "alice.toml"))).toBe(`${shared} is writable by every account (mode 1777)`);
  });
});

describe("assertSafePath", () => {
  it("accepts a path under directories only root and this user can change, through a sticky /tmp above them", () => {
    const etc = mkdir("etc/fetchml", 0o750);
    expect(() => assertSafePath(path.join(etc, "api.yaml"), "cfg")).not.toThrow();
    fs.writeFileSync(path.join(etc, "api.yaml"), "");
    fs.symlinkSync(path.join(etc, "api.yaml"), path.join(dir, "link.yaml"));
    expect(() => assertSafePath(path.join(dir, "link.yaml"), "cfg")).not.toThrow();
  });

  it("refuses a directory owned by another account, naming it, its owner and the fix", () => {
    const svc = mkdir("svc", 0o755, NOBODY);
    expect(() => assertSafePath(path.join(svc, "api.yaml"), "/cfg/api.yaml")).toThrow(
      `/cfg/api.yaml: ${svc} belongs to nobody (uid ${NOBODY}), not to root: that account could swap the file for a link while a run writes it. ` +
        `Make it root's (chown root ${svc}; the server only needs to read the file) or run as that account`,
    );
    // A parent owned by that account is as bad: it can swap the whole directory.
    const inner = mkdir("svc/conf", 0o755);
    expect(() => assertSafePath(path.join(inner, "api.yaml"), "cfg")).toThrow(`cfg: ${svc} belongs to nobody (uid ${NOBODY})`);
  });

  it("refuses a directory others can write, and a sticky one as the file's own directory", () => {
    const open = mkdir("open", 0o777);
    expect(() => assertSafePath(path.join(open, "api.yaml"), "cfg")).toThrow(
      `cfg: ${open} is writable by every account (mode 777): another account could swap the file for a link while a run writes it. Close it: chmod go-w ${open}`,
    );
    const group = mkdir("group", 0o775);
    expect(() => assertSafePath(path.join(group, "api.yaml"), "cfg")).toThrow(/group\/? is writable by group .*\(gid \d+\) \(mode 775\)/);
    const sticky = mkdir("sticky", 0o1777);
    expect(() => assertSafePath(path.join(sticky, "api.yaml"), "cfg")).toThrow(`cfg: ${sticky} is writable by every account (mode 1777)`);
    // A shared directory such as /tmp is meant to be so: the hint is a directory of one's own, never its mode.
    expect(() => assertSafePath(path.join(sticky, "api.yaml"), "cfg")).toThrow(`mkdir -m 755 ${path.join(sticky, "fetchml")}`);
    expect(() => assertSafePath(path.join(sticky, "api.yaml"), "cfg")).not.toThrow(/chmod/);
    // Below the sticky directory, in a directory of this user's: fine.
    const mine = mkdir("sticky/mine", 0o700);
    expect(() => assertSafePath(path.join(mine, "api.yaml"), "cfg")).not.toThrow();
  });

  it("checks every directory a link leads through, and the link's own", () => {
    const safe = mkdir("safe", 0o755);
    fs.writeFileSync(path.join(safe, "api.yaml"), "");
    const svc = mkdir("svc", 0o755, NOBODY);
    // A link in that account's directory to a safe file: the account can point it anywhere.
    fs.symlinkSync(path.join(safe, "api.yaml"), path.join(svc, "api.yaml"));
    expect(() => assertSafePath(path.join(svc, "api.yaml"), "cfg")).toThrow(`cfg: ${svc} belongs to nobody`);
    // A safe link into that account's directory.
    fs.symlinkSync(svc, path.join(safe, "conf"));
    expect(() => assertSafePath(path.join(safe, "conf", "x.yaml"), "cfg")).toThrow(`cfg: ${svc} belongs to nobody`);
  });

  it("in an ordinary user's isolated run (a user namespace mapping only its uid), checks the real owners looked up outside, and says so where there are none", () => {
    // The built module, as uid 4242 in a user namespace of its own: there root's "/" reads as the overflow uid.
    fs.chmodSync(dir, 0o755);
    const file = path.join(mkdir("srv", 0o755, 4242), "api.yaml");
    const script = `
      const { assertSafePath } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist", "lib", "safePath.js"))});
      try { assertSafePath(${JSON.stringify(file)}, "cfg"); console.log("accepted"); } catch (e) { console.log(e.message); }`;
    const node = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
    const asUser = (namespace: boolean, owners?: string) => {
      const command = [...(namespace ? ["unshare", "--map-current-user"] : []), node, "-e", script];
      const env = { PATH: process.env.PATH!, ...(owners === undefined ? {} : { [OWNERS_VARIABLE]: owners }) };
      const r = spawnSync("setpriv", ["--reuid=4242", "--regid=4242", "--clear-groups", ...command], { encoding: "utf8", env });
      expect(r.stderr).toBe("");
      return r.stdout;
    };
    // No owners looked up (a run started some other way): it cannot tell root from another account.
    const unknown = asUser(true);
    expect(unknown).toMatch(/^cfg: \/ shows as owned by uid 65534 here: this run is in a user namespace that maps only your own uid/);
    expect(unknown).toMatch(/started by bin\/fetchml-keys, npm run or bin\/fetchml-keys-isolated/);
    expect(unknown).not.toMatch(/chown|chmod/);
    // Looked up outside (as scripts/isolated.sh does): root's directories are root's, and the path is accepted...
    expect(asUser(true, ownersOnTheWay([file]))).toBe("accepted\n");
    // ...as it is outside a user namespace, where the same account sees root as root.
    expect(asUser(false)).toBe("accepted\n");
    // Another account's directory on the way is named with its real owner, not waved through.
    fs.chownSync(path.dirname(file), 1234, 1234);
    expect(asUser(true, ownersOnTheWay([file]))).toMatch(/^cfg: .*\/srv belongs to uid 1234, not to root or this user \(uid 4242\)/);
    // Owners of other inodes vouch for nothing here.
    expect(asUser(true, ownersOnTheWay(["/usr/bin/env"]))).toMatch(/shows as owned by uid 65534 here/);
    // Nor does the owner of this very inode found at another path: an inode number the run freed
    // (a file it replaced) can come back as another account's new directory anywhere on the disk.
    const srv = fs.statSync(path.dirname(file));
    const elsewhere = JSON.stringify([
      ...JSON.parse(ownersOnTheWay([path.join(dir, "x")])),
      { path: path.join(dir, "admins-old-file"), dev: srv.dev, ino: srv.ino, uid: 4242, gid: 4242 },
    ]);
    expect(asUser(true, elsewhere)).toMatch(/srv shows as owned by uid 65534 here/);
  });
});

describe("untrustedGroup (whether a directory's group may write it)", () => {
  it("trusts only the owner's own group with trusted accounts listed in it, and says why not otherwise", () => {
    const etc = fs.mkdtempSync(path.join(os.tmpdir(), "group-members-"));
    const files = { passwd: path.join(etc, "passwd"), group: path.join(etc, "group") };
    fs.writeFileSync(
      files.passwd,
      "root:x:0:0::/root:/bin/sh\npostgres:x:101:104::/var/lib/postgresql:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n",
    );
    fs.writeFileSync(files.group, "root:x:0:\npostgres:x:104:\nusers:x:100:\npg-admins:x:105:alice\nnet:x:106:carol\n");
    const trusted = (uid: number) => uid < 1000;
    try {
      expect(untrustedGroup({ uid: 101, gid: 104 }, trusted, files)).toBeUndefined();
      expect(untrustedGroup({ uid: 0, gid: 0 }, trusted, files)).toBeUndefined();
      // Not the owner's own: a directory service's accounts may have it as their primary group.
      expect(untrustedGroup({ uid: 0, gid: 100 }, trusted, files)).toBe(", not the group of root (uid 0)");
      fs.writeFileSync(files.passwd, fs.readFileSync(files.passwd, "utf8").replace("postgres:x:101:104", "postgres:x:101:105"));
      expect(untrustedGroup({ uid: 101, gid: 105 }, trusted, files)).toBe(", which alice (uid 1001) is in");
      fs.writeFileSync(files.passwd, fs.readFileSync(files.passwd, "utf8").replace("postgres:x:101:105", "postgres:x:101:106"));
      expect(untrustedGroup({ uid: 101, gid: 106 }, trusted, files)).toBe(`, which carol (not in ${files.passwd}) is in`);
      // recheck43 F1: another account whose primary group it is (nobody shares sshd's nogroup).
      fs.appendFileSync(
        files.passwd,
        "sshd:x:102:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n",
      );
      fs.appendFileSync(files.group, "nogroup:x:65534:\n");
      expect(untrustedGroup({ uid: 102, gid: 65534 }, trusted, files)).toBe(", which nobody (uid 65534) is in");
    } finally {
      fs.rmSync(etc, { recursive: true, force: true });
    }
  });
});

describe("searchPathProblems (PATH directories a program started by name could come from)", () => {
  it("passes directories only root, this user or a system account can change; names the rest, each with why", () => {
    const own = mkdir("own/bin");
    const open = mkdir("open/bin", 0o777);
    const theirs = mkdir("theirs/bin", 0o755, NOBODY);
    const sticky = mkdir("sticky", 0o1777);
    expect(searchPathProblems(`/usr/bin:${own}:/bin:${path.join(own, "not-yet")}`)).toEqual([]);
    expect(searchPathProblems(`${own}:${open}::relative/bin:${theirs}:${sticky}:${path.join(open, "not-yet")}:${open}`)).toEqual([
      `${open}: ${open} is writable by every account (mode 777)`,
      '"": the current directory, wherever the run is',
      '"relative/bin": under the current directory, wherever the run is',
      `${theirs}: ${theirs} belongs to nobody (uid ${NOBODY})`,
      `${sticky}: ${sticky} is writable by every account (mode 1777)`,
      `${path.join(open, "not-yet")}: ${open} is writable by every account (mode 777)`,
    ]);
  });

  it("passes over a directory this user cannot search: nothing in it can be started either", () => {
    mkdir("closed", 0o700);
    const inside = mkdir("closed/bin", 0o777);
    const r = spawnSync(
      AS_NOBODY[0],
      [
        ...AS_NOBODY.slice(1),
        process.execPath,
        "-e",
        `console.log(JSON.stringify(require(${JSON.stringify(path.join(PROJECT_ROOT, "dist/lib/safePath.js"))}).searchPathProblems(${JSON.stringify(`/usr/bin:${inside}`)})))`,
      ],
      { encoding: "utf8" },
    );
    expect([r.stdout.trim(), r.stderr]).toEqual(["[]", ""]);
  });
});

const ADMIN = 4242; // an ordinary admin (not root), not the attacking account
const asNobody = (script: string) => spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), "/bin/sh", "-c", script], { encoding: "utf8" });
const plant = (bin: string) =>
  asNobody(`mkdir -p ${bin} && printf '#!/bin/sh\\necho planted $(id -u)\\n' > ${bin}/fkprobe && chmod 755 ${bin}/fkprobe`);

describe("searchPathProblems and how sh really searches (recheck44: both got past the check)", () => {
  // Reachable by the other accounts here (mkdtemp makes it 0700).
  beforeEach(() => fs.chmodSync(dir, 0o755));

  it("names a PATH entry whose `..` follows a link into another account's directory", () => {
    const trusted = path.join(dir, "trusted");
    fs.mkdirSync(trusted, { mode: 0o755 });
    const theirs = path.join(dir, "theirs");
    fs.mkdirSync(path.join(theirs, "sub"), { recursive: true });
    fs.chownSync(theirs, NOBODY, NOBODY);
    fs.chownSync(path.join(theirs, "sub"), NOBODY, NOBODY);
    fs.symlinkSync(path.join(theirs, "sub"), path.join(trusted, "lnk"));
    expect(plant(path.join(theirs, "bin")).status).toBe(0);
    const entry = `${trusted}/lnk/../bin`;
    const found = spawnSync("/bin/sh", ["-c", "fkprobe"], { encoding: "utf8", env: { PATH: `${entry}:/usr/bin:/bin` } }).stdout.trim();
    expect(found, "sh finds uid 65534's program through the entry").toBe("planted 0");
    expect(searchPathProblems(`${entry}:/usr/bin`), `the check on ${entry}`).not.toEqual([]);
  });

  it("names a directory another account owns even while this user cannot search it (its owner can open it later)", () => {
    const home = path.join(dir, "home");
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, NOBODY, NOBODY);
    const bin = path.join(home, "bin");
    expect(plant(bin).status).toBe(0);
    const check = spawnSync(
      "setpriv",
      [
        `--reuid=${ADMIN}`,
        `--regid=${ADMIN}`,
        "--clear-groups",
        process.execPath,
        "-e",
        `console.log(JSON.stringify(require(${JSON.stringify(path.join(PROJECT_ROOT, "dist/lib/safePath.js"))}).searchPathProblems(${JSON.stringify(`${bin}:/usr/bin`)})))`,
      ],
      { encoding: "utf8" },
    );
    // After the check, the owner opens the directory; the admin's shell then runs what is there.
    expect(asNobody(`chmod 755 ${home}`).status).toBe(0);
    const ran = spawnSync("setpriv", [`--reuid=${ADMIN}`, `--regid=${ADMIN}`, "--clear-groups", "/bin/sh", "-c", "fkprobe"], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin` },
    }).stdout.trim();
    expect(ran, "the admin's sh runs uid 65534's program").toBe(`planted ${ADMIN}`);
    expect(JSON.parse(check.stdout.trim() || "null"), `the check as uid ${ADMIN} (${check.stderr})`).not.toEqual([]);
  });
});
