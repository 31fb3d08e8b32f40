/**
 * A stand-in `bw` for the unit tests of the run's shared `bw serve` (program/vaultCheck.ts,
 * steps/bitwarden/serve.ts, the vault step): the check, the lock, BwServe and the vault step
 * stay the real code, and no vault or Bitwarden server is needed.
 *
 * `bw status` says unlocked. `bw serve` listens on the socket it is given, after the
 * milliseconds in `<dir>/start-ms` when that file is there; answers as an unlocked vault with no
 * items (a created one is `item-1`); exits without answering the request numbered by
 * `<dir>/exit-at` (1 is the first); and notes `<pid> listening` and `<pid> <METHOD> <url>` in
 * `<dir>/requests.log`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach } from "vitest";
import type { BitwardenSettings } from "../../../config/settings";
import type { VaultCheck } from "../../../program/vaultCheck";
import { tryBwLock } from "../../../steps/bitwarden/bw";

const VARIABLES = ["BITWARDENCLI_APPDATA_DIR", "BW_SESSION", "TMPDIR"] as const;

export interface FakeBw {
  /** This test's private directory (0700): the stand-in, its log, bw's data directory. */
  readonly dir: string;
  /** The stand-in's path, for `bitwarden.cli`. */
  readonly bw: string;
  /** The requests its serves were sent, as `<pid> <METHOD> <url>`. */
  requests(): string[];
  /** Pids of this test's `bw serve` processes still running (only its own: their argv names its directory). */
  serves(): string[];
  /** Whether the bw lock on this test's data directory is free now. */
  lockFree(): Promise<boolean>;
  /** Bitwarden settings naming the stand-in. */
  settings(): BitwardenSettings;
}

/**
 * A fresh stand-in per test (beforeEach), with BITWARDENCLI_APPDATA_DIR and BW_SESSION set for it
 * and, with `tmp`, TMPDIR pointed at its directory; everything put back and removed after.
 */
export function useFakeBw(prefix: string, options: { session: string; tmp?: boolean }): FakeBw {
  const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  let dir = "";
  const bw = () => path.join(dir, "bw");
  const log = () => path.join(dir, "requests.log");
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.chmodSync(dir, 0o700);
    fs.writeFileSync(bw(), standIn(dir), { mode: 0o700 });
    process.env.BITWARDENCLI_APPDATA_DIR = path.join(dir, "bw-data");
    process.env.BW_SESSION = options.session;
    if (options.tmp) process.env.TMPDIR = dir;
  });
  afterEach(() => {
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get bw() {
      return bw();
    },
    requests: () =>
      fs.existsSync(log())
        ? fs
            .readFileSync(log(), "utf8")
            .split("\n")
            .filter((l) => /GET|POST|PUT|DELETE/.test(l))
        : [],
    serves: () => processesNaming(`${dir}/`, "\0serve\0"),
    lockFree: async () => {
      const release = await tryBwLock(bw());
      release?.();
      return release !== undefined;
    },
    settings: () => ({ cli: bw(), organizationId: "org-1", itemPrefix: "FetchML API", collectionIds: ["c"], onRevoke: "trash", repair: 0 }),
  };
}

/** The vault check's hook, run as the engine would before a Bitwarden user's key changes. */
export function runCheck(check: VaultCheck): Promise<void> {
  return (check.hook as unknown as { callback: () => Promise<void> }).callback();
}

/** Pids of processes whose command line holds every one of `parts`. */
export function processesNaming(...parts: string[]): string[] {
  return fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
        return parts.every((part) => cmdline.includes(part));
      } catch {
        return false;
      }
    });
}

function standIn(dir: string): string {
  const file = (name: string) => JSON.stringify(path.join(dir, name));
  return `#!${process.execPath}
const fs = require("node:fs");
const args = process.argv.slice(2);
const note = (line) => fs.appendFileSync(${file("requests.log")}, process.pid + " " + line + "\\n");
const number = (name) => (fs.existsSync(name) ? Number(fs.readFileSync(name, "utf8")) : 0);
if (args[0] === "status") { process.stdout.write('{"status":"unlocked"}'); process.exit(0); }
if (args[0] !== "serve") process.exit(1);
const socket = args[args.indexOf("--hostname") + 1].slice("unix://".length);
const exitAt = number(${file("exit-at")});
let served = 0;
process.on("SIGTERM", () => process.exit(0));
setTimeout(() => {
  const server = require("node:http").createServer((q, r) => {
    note(q.method + " " + q.url);
    if (++served === exitAt) process.exit(0);
    const url = q.url ?? "";
    r.setHeader("Content-Type", "application/json");
    r.end(JSON.stringify({ success: true, data: url === "/status" ? { template: { status: "unlocked" } } : url.startsWith("/list") ? { data: [] } : { id: "item-1" } }));
  });
  server.on("error", () => process.exit(3));
  server.listen(socket, () => note("listening"));
}, number(${file("start-ms")}));
`;
}
