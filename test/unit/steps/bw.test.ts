/**
 * Each `bw` a run starts gets only the one Bitwarden secret that command needs: the status
 * check none but the session, `bw login --apikey` the API key and never the master password,
 * `bw unlock` the master password and never the API key, and none of them the run's other
 * secrets. A stand-in `bw` (a shell script) notes the environment of each call.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import type * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireSession, bwCommand, bwDataDir, bwTrustProblems, checkUnlocked, withBwLock } from "../../../steps/bitwarden/bw";
import { BwServe, sharedServeDir, socketParent, sweepSocketDirs } from "../../../steps/bitwarden/serve";
import { deadSocket, listeningSocket } from "../../support/sockets";
import { NOBODY } from "../../support/nobody";

let dir: string;
let bw: string[];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bw-env-"));
  const script = path.join(dir, "bw");
  // `status` says logged out until `unlock` ran; `unlock --raw` prints a session.
  fs.writeFileSync(
    script,
    `#!/bin/sh
env > "${dir}/$1.env"
case "$1" in
  status) if [ -e "${dir}/unlock.env" ]; then echo '{"status":"unlocked"}'; else echo '{"status":"unauthenticated"}'; fi ;;
  unlock) echo "session-from-unlock" ;;
esac
`,
    { mode: 0o755 },
  );
  bw = [script];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const SECRETS = {
  BW_CLIENTID: "user.client-id-of-the-run",
  BW_CLIENTSECRET: "client-secret-of-the-run",
  BW_PASSWORD: "master-password-of-the-run",
  PULUMI_CONFIG_PASSPHRASE: "passphrase-of-the-run",
  AWS_SECRET_ACCESS_KEY: "cloud-secret-of-the-run",
};
const seen = (command: string) => fs.readFileSync(path.join(dir, `${command}.env`), "utf8");
const held = (command: string) =>
  Object.entries(SECRETS)
    .filter(([, secret]) => seen(command).includes(secret))
    .map(([name]) => name);

describe("the environment of each bw", () => {
  it("an unattended login gives the API key to `bw login` only and the master password to `bw unlock` only", async () => {
    const env = { PATH: process.env.PATH, HOME: dir, BITWARDENCLI_APPDATA_DIR: dir, ...SECRETS };
    expect(await acquireSession(bw, env)).toBe("session-from-unlock");
    expect(held("status")).toEqual([]);
    expect(held("login")).toEqual(["BW_CLIENTID", "BW_CLIENTSECRET"]);
    expect(held("unlock")).toEqual(["BW_PASSWORD"]);
    expect(seen("login")).toContain(`BITWARDENCLI_APPDATA_DIR=${dir}\n`);
  });

  it("the vault check gives `bw status` the session and nothing else of the run's", async () => {
    const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
    Object.assign(process.env, SECRETS);
    fs.writeFileSync(path.join(dir, "unlock.env"), "");
    try {
      await checkUnlocked(bw, "session-of-the-run");
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(held("status")).toEqual([]);
    expect(seen("status")).toContain("BW_SESSION=session-of-the-run\n");
  });
});

describe("one bw at a time", () => {
  it("runs work under the lock one after another, never two at once, and leaves no lock behind", async () => {
    const env = { BITWARDENCLI_APPDATA_DIR: dir };
    let running = 0;
    let most = 0;
    const work = async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 300));
      running--;
    };
    await Promise.all([withBwLock(undefined, work, env), withBwLock(undefined, work, env), withBwLock(undefined, work, env)]);
    expect(most).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(path.join(dir, "fetchml-keys.lock"))).toEqual([]);
  });

  it("locks bw's own data directory, wherever bw keeps it (XDG_CONFIG_HOME too)", async () => {
    const home = path.join(dir, "home");
    const xdg = path.join(dir, "xdg");
    let inside: string[] = [];
    await withBwLock(
      undefined,
      async () => {
        inside = fs.readdirSync(path.join(xdg, "Bitwarden CLI"));
      },
      { HOME: home, XDG_CONFIG_HOME: xdg },
    );
    expect(inside).toContain("fetchml-keys.lock");
    expect(fs.existsSync(path.join(home, ".config"))).toBe(false);
  });

  it("takes over the lock of a run that was killed", async () => {
    fs.writeFileSync(path.join(dir, "fetchml-keys.lock"), "2147483646");
    expect(await withBwLock(undefined, async () => "ran", { BITWARDENCLI_APPDATA_DIR: dir })).toBe("ran");
  });
});

describe("bw serve's socket directories", () => {
  const dead = 2 ** 22 + 1; // above the kernel's default pid_max: no such process

  it("live in this user's own 0700 directory, where the stale ones of killed runs are swept; a shared /tmp is not scanned", async () => {
    const parent = socketParent(dir)!;
    expect(parent).toBe(path.join(dir, `fetchml-keys-bw-${process.getuid!()}`));
    const st = fs.lstatSync(parent);
    expect([st.isDirectory(), st.uid, st.mode & 0o777]).toEqual([true, process.getuid!(), 0o700]);
    const hourAgo = new Date(Date.now() - 3_600_000);
    const make = async (name: string, socket: "none" | "dead" | "listening", since: Date) => {
      const d = path.join(parent, name);
      fs.mkdirSync(d);
      if (socket === "dead") await deadSocket(path.join(d, "bw.sock"));
      if (socket === "listening") servers.push(await listeningSocket(path.join(d, "bw.sock")));
      fs.utimesSync(d, since, since);
    };
    const servers: net.Server[] = [];
    try {
      // Named like a run whose pid has recurred (the next run's pid 7 is alive): the name no longer counts.
      await make(`${process.pid}-killed`, "dead", hourAgo);
      await make("serve-killed-before-listening", "none", hourAgo);
      await make("serve-live", "listening", hourAgo);
      await make("serve-starting", "none", new Date());
      // The old layout's name, directly in the shared directory: not this sweep's to judge.
      fs.mkdirSync(path.join(dir, `fetchml-keys-bw-${dead}-other`));
      await sweepSocketDirs(parent);
      expect(fs.readdirSync(parent).sort()).toEqual(["serve-live", "serve-starting"]);
      expect(fs.existsSync(path.join(dir, `fetchml-keys-bw-${dead}-other`))).toBe(true);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it("are not put under that name when another account made it first, or made it a link", () => {
    const name = path.join(dir, `fetchml-keys-bw-${process.getuid!()}`);
    fs.mkdirSync(name, { mode: 0o700 });
    fs.chownSync(name, NOBODY, NOBODY);
    expect(socketParent(dir)).toBeUndefined();
    fs.rmSync(name, { recursive: true });
    fs.mkdirSync(name);
    fs.chmodSync(name, 0o755);
    expect(socketParent(dir)).toBeUndefined();
    fs.rmSync(name, { recursive: true });
    fs.mkdirSync(path.join(dir, "elsewhere"), { mode: 0o700 });
    fs.symlinkSync(path.join(dir, "elsewhere"), name);
    expect(socketParent(dir)).toBeUndefined();
  });
});

const identity = (over: Partial<Parameters<typeof sharedServeDir>[0]> = {}) => ({
  stack: "organization/fetchml-keys/dev",
  dataDir: "/home/admin/.config/Bitwarden CLI",
  organizationId: "org-1",
  itemPrefix: "FetchML API",
  ...over,
});

describe("bw serve's TMPDIR", () => {
  it("is refused, naming it, where another account could swap the directory bw serve listens in", async () => {
    const open = path.join(dir, "open");
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    const theirs = path.join(dir, "theirs");
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    for (const tmp of [open, theirs]) {
      const env = { PATH: process.env.PATH, HOME: dir, BITWARDENCLI_APPDATA_DIR: dir, TMPDIR: tmp };
      expect(bwTrustProblems(undefined, env).join("\n")).toContain(`TMPDIR ${tmp}: another account could`);
      expect(() => sharedServeDir(identity(), tmp)).toThrow(`TMPDIR ${tmp}`);
    }
    // A shared sticky /tmp, and a directory of one's own, are not.
    const sticky = path.join(dir, "sticky");
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    for (const tmp of [sticky, dir])
      expect(bwTrustProblems(undefined, { HOME: dir, BITWARDENCLI_APPDATA_DIR: dir, TMPDIR: tmp })).toEqual([]);
  });
});

describe("the run's shared bw serve", () => {
  it("is found by the stack, the checkout, the data directory, organization and item prefix, in this user's own directory only", () => {
    const at = sharedServeDir(identity(), dir)!;
    expect(path.dirname(at)).toBe(socketParent(dir));
    expect(sharedServeDir(identity(), dir)).toBe(at);
    // attack47 F2: another stack of the same vault and prefix (the default) never finds it.
    expect(sharedServeDir(identity({ stack: "organization/fetchml-keys/prod" }), dir)).not.toBe(at);
    expect(sharedServeDir(identity({ dataDir: "/root/.config/Bitwarden CLI" }), dir)).not.toBe(at);
    expect(sharedServeDir(identity({ organizationId: "org-2" }), dir)).not.toBe(at);
    expect(sharedServeDir(identity({ itemPrefix: "Team B" }), dir)).not.toBe(at);
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "bw-shared-"));
    try {
      fs.mkdirSync(path.join(other, `fetchml-keys-bw-${process.getuid!()}`), { mode: 0o755 });
      expect(sharedServeDir(identity(), other)).toBeUndefined();
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it("is joined only where this user's own closed directory holds a listening socket", async () => {
    const parent = socketParent(dir)!;
    const servers: net.Server[] = [];
    const make = async (name: string, mode: number, socket: "listening" | "dead" | "none") => {
      const d = path.join(parent, name);
      fs.mkdirSync(d, { mode });
      fs.chmodSync(d, mode);
      if (socket === "listening") servers.push(await listeningSocket(path.join(d, "bw.sock")));
      if (socket === "dead") await deadSocket(path.join(d, "bw.sock"));
      return d;
    };
    try {
      expect(await BwServe.join(await make("run-live", 0o700, "listening"))).toBeInstanceOf(BwServe);
      expect(await BwServe.join(await make("run-dead", 0o700, "dead"))).toBeUndefined();
      expect(await BwServe.join(await make("run-none", 0o700, "none"))).toBeUndefined();
      expect(await BwServe.join(await make("run-open", 0o755, "listening"))).toBeUndefined();
      const theirs = await make("run-theirs", 0o700, "listening");
      fs.chownSync(theirs, NOBODY, NOBODY);
      expect(await BwServe.join(theirs)).toBeUndefined();
      fs.symlinkSync(path.join(parent, "run-live"), path.join(parent, "run-link"));
      expect(await BwServe.join(path.join(parent, "run-link"))).toBeUndefined();
      expect(await BwServe.join(path.join(parent, "run-missing"))).toBeUndefined();
    } finally {
      for (const server of servers) server.close();
    }
  });
});

describe("the run's shared bw serve, started and stopped", () => {
  it("is joined while it runs, and no longer from the moment it is being stopped (a serve finishing its last save still listens)", async () => {
    // A stand-in `bw serve`: answers every request as an unlocked vault, takes 1.5 s to exit on SIGTERM.
    const script = path.join(dir, "serve.js");
    fs.writeFileSync(
      script,
      `const at = process.argv[process.argv.indexOf("--hostname") + 1].slice("unix://".length);\n` +
        `require("node:http").createServer((q, r) => r.end(JSON.stringify({ success: true, data: { template: { status: "unlocked" } } }))).listen(at);\n` +
        `process.on("SIGTERM", () => setTimeout(() => process.exit(0), 1500));\n`,
    );
    const at = sharedServeDir(identity(), dir)!;
    const serve = (await BwServe.startShared([process.execPath, script], "session", at))!;
    expect(serve).toBeInstanceOf(BwServe);
    const joined = (await BwServe.join(at))!;
    expect(await joined.call("GET", "/status")).toEqual({ template: { status: "unlocked" } });
    let exited = false;
    serve.onExit(() => (exited = true));
    const closing = serve.close();
    expect(await BwServe.join(at)).toBeUndefined();
    await closing;
    expect(exited).toBe(true);
    expect(fs.existsSync(at)).toBe(false);
  });
});

describe("bwCommand", () => {
  it("runs the very file it checked: a bare bitwarden.cli name is looked up once, as an absolute path (recheck43 F8)", () => {
    const tools = fs.mkdtempSync(path.join(os.tmpdir(), "bw-name-"));
    try {
      fs.chmodSync(tools, 0o755);
      fs.writeFileSync(path.join(tools, "bw"), "#!/bin/sh\n", { mode: 0o755 });
      expect(bwCommand("bw", { PATH: `${tools}:/usr/bin:/bin` })).toEqual([path.join(tools, "bw")]);
    } finally {
      fs.rmSync(tools, { recursive: true, force: true });
    }
  });
});

describe("bwTrustProblems: bw's data directory (recheck43 F2)", () => {
  it("refuses a data.json another account made or could replace, or one open to others; accepts this user's own", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "bw-data-"));
    try {
      const own = path.join(home, "own");
      fs.mkdirSync(own, { mode: 0o700 });
      fs.writeFileSync(path.join(own, "data.json"), "{}", { mode: 0o600 });
      expect(bwTrustProblems(undefined, { BITWARDENCLI_APPDATA_DIR: own })).toEqual([]);
      fs.chmodSync(path.join(own, "data.json"), 0o644);
      expect(bwTrustProblems(undefined, { BITWARDENCLI_APPDATA_DIR: own })).toEqual([
        expect.stringContaining(
          `bw's data directory ${own}: another account could read or replace its data.json (${own}/data.json is readable by others, mode 644)`,
        ),
      ]);
      const theirs = path.join(home, "theirs");
      fs.mkdirSync(theirs, { mode: 0o755 });
      fs.chownSync(theirs, NOBODY, NOBODY);
      expect(bwTrustProblems(undefined, { BITWARDENCLI_APPDATA_DIR: theirs })).toEqual([
        expect.stringContaining(`(${theirs} belongs to nobody (uid ${NOBODY}))`),
      ]);
      // The default place, under XDG_CONFIG_HOME or HOME, as bw itself finds it.
      expect(bwTrustProblems(undefined, { XDG_CONFIG_HOME: theirs })).toEqual([expect.stringContaining(`${theirs}/Bitwarden CLI`)]);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("bwDataDir: bw's own rule, a bw-data directory beside the executable first", () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bw-portable-"))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const BW_JS = require.resolve("@bitwarden/cli/build/bw.js");

  /** A node of its own in `dir` (a hard link where it can be: process.execPath is the real file). */
  function nodeIn(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const node = path.join(dir, "node");
    try {
      fs.linkSync(process.execPath, node);
    } catch {
      fs.copyFileSync(process.execPath, node);
    }
    return node;
  }

  it("is where the real bw keeps its login when a bw-data sits beside the node it runs under, BITWARDENCLI_APPDATA_DIR or not", () => {
    const node = nodeIn(path.join(tmp, "runtime"));
    const cli = path.join(tmp, "bin", "bw");
    fs.mkdirSync(path.dirname(cli));
    fs.writeFileSync(cli, `#!/usr/bin/env node\nrequire(${JSON.stringify(BW_JS)});\n`, { mode: 0o755 });
    const appData = path.join(tmp, "appdata");
    const env = { PATH: `${path.dirname(node)}:/usr/bin:/bin`, HOME: tmp, BITWARDENCLI_APPDATA_DIR: appData };
    expect(bwDataDir(env, cli)).toBe(appData);
    const portable = path.join(tmp, "runtime", "bw-data");
    fs.mkdirSync(portable, { mode: 0o700 });
    expect(bwDataDir(env, cli)).toBe(portable);
    // The real bw, started as bwCommand starts an admin's: it writes its data file there.
    const r = spawnSync(cli, ["status"], { env: { ...env, BW_NOINTERACTION: "true" }, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(portable, "data.json"))).toBe(true);
    expect(fs.existsSync(path.join(appData, "data.json"))).toBe(false);
    // So the trust check and the lock look there too.
    fs.chmodSync(path.join(portable, "data.json"), 0o644);
    expect(bwTrustProblems(cli, env)).toEqual([expect.stringContaining(`bw's data directory ${portable}:`)]);
  }, 60_000);

  // recheck46 F5: GNU env takes `-Snode` and `--split-string=node` too; the real bw then keeps its
  // login beside that node while the check looked in BITWARDENCLI_APPDATA_DIR.
  for (const line of ["#!/usr/bin/env -Snode", "#!/usr/bin/env --split-string=node", "#!/usr/bin/env -S -u X node --no-warnings"]) {
    it(`follows ${line} as env does, where the real bw keeps its login`, () => {
      const node = nodeIn(path.join(tmp, "runtime"));
      const cli = path.join(tmp, "bin", "bw");
      fs.mkdirSync(path.dirname(cli));
      fs.writeFileSync(cli, `${line}\nrequire(${JSON.stringify(BW_JS)});\n`, { mode: 0o755 });
      const portable = path.join(tmp, "runtime", "bw-data");
      fs.mkdirSync(portable, { mode: 0o700 });
      const env = { PATH: `${path.dirname(node)}:/usr/bin:/bin`, HOME: tmp, BITWARDENCLI_APPDATA_DIR: path.join(tmp, "appdata") };
      expect(bwDataDir(env, cli)).toBe(portable);
      const r = spawnSync(cli, ["status"], { env: { ...env, BW_NOINTERACTION: "true" }, encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(fs.existsSync(path.join(portable, "data.json"))).toBe(true);
    }, 60_000);
  }

  it("follows a #! interpreter named by path, and a native bw's own directory", () => {
    const node = nodeIn(path.join(tmp, "interp"));
    const script = path.join(tmp, "script-bw");
    fs.writeFileSync(script, `#!${node} --no-warnings\n`, { mode: 0o755 });
    fs.mkdirSync(path.join(tmp, "interp", "bw-data"));
    expect(bwDataDir({ HOME: tmp }, script)).toBe(path.join(tmp, "interp", "bw-data"));
    const native = path.join(tmp, "native", "bw");
    fs.mkdirSync(path.dirname(native));
    fs.writeFileSync(native, "\x7fELF", { mode: 0o755 });
    expect(bwDataDir({ HOME: tmp }, native)).toBe(path.join(tmp, ".config/Bitwarden CLI"));
    fs.mkdirSync(path.join(tmp, "native", "bw-data"));
    expect(bwDataDir({ HOME: tmp }, native)).toBe(path.join(tmp, "native", "bw-data"));
  });
});

// recheck46 F5b: only the bw script was checked; the interpreter its #! line names runs with the
// session as much as the script does (uid 65534 swapped it and got BW_SESSION, 3 of 3).
describe("bwTrustProblems: a bitwarden.cli script's interpreter", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bw-interpreter-"));
    fs.chmodSync(tmp, 0o755);
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  /** An interpreter (never run here) in a directory uid 65534 owns; a bw script of root's naming it. */
  function theirs(shebang: (interpreter: string) => string): { cli: string; interpreter: string; env: NodeJS.ProcessEnv } {
    const dir = path.join(tmp, "theirs");
    fs.mkdirSync(dir, { mode: 0o755 });
    const interpreter = path.join(dir, "node");
    fs.writeFileSync(interpreter, "#!/bin/sh\n", { mode: 0o755 });
    fs.chownSync(dir, NOBODY, NOBODY);
    fs.chownSync(interpreter, NOBODY, NOBODY);
    const cli = path.join(tmp, "bin", "bw");
    fs.mkdirSync(path.dirname(cli), { mode: 0o755 });
    fs.writeFileSync(cli, `${shebang(interpreter)}\n`, { mode: 0o755 });
    const own = path.join(tmp, "appdata");
    fs.mkdirSync(own, { mode: 0o700 });
    fs.writeFileSync(path.join(own, "data.json"), "{}", { mode: 0o600 });
    return { cli, interpreter, env: { PATH: "/usr/bin:/bin", HOME: tmp, BITWARDENCLI_APPDATA_DIR: own } };
  }

  it("refuses an interpreter named by path that another account could replace", () => {
    const { cli, env } = theirs((i) => `#!${i}`);
    expect(bwTrustProblems(cli, env)).toEqual([
      expect.stringContaining(
        `: another account could replace the interpreter it runs under (${path.join(tmp, "theirs", "node")} belongs to nobody`,
      ),
    ]);
  });

  it("refuses node found on PATH through a link into a directory another account owns, and one that cannot be told", () => {
    const { cli, interpreter, env } = theirs(() => "#!/usr/bin/env node");
    const bin = path.join(tmp, "pathbin");
    fs.mkdirSync(bin, { mode: 0o755 });
    fs.symlinkSync(interpreter, path.join(bin, "node")); // root's own link, in root's own PATH directory
    expect(bwTrustProblems(cli, { ...env, PATH: `${bin}:/usr/bin:/bin` })).toEqual([
      expect.stringContaining("the interpreter it runs under"),
    ]);
    fs.writeFileSync(cli, "#!/usr/bin/env -i\n");
    expect(bwTrustProblems(cli, env)).toEqual([expect.stringContaining("(its #! interpreter cannot be told)")]);
  });
});
