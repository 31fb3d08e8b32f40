/**
 * The state database's password goes to no one but the database. Another local account
 * (uid 65534) listens where the admin's PULUMI_BACKEND_URL points while the real PostgreSQL is
 * not there (stopped, restarting): on the URL's loopback port, or as the Unix socket in a
 * directory it can write. The engine's driver sent it the password for every sslmode below
 * verify-ca, and over a socket whatever the URL said (attack40b F1, F1b: 3 of 3 each). Now the
 * runner refuses such a URL before any engine starts, and verify-full holds on its own.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEngine } from "../../cli/engine";
import { PROJECT_ROOT } from "../../cli/paths";
import { userName } from "../../lib/safePath";
import { freePort } from "../support/freePort";
import { NOBODY, PYTHON_AS_NOBODY } from "../support/nobody";
import { runRunner } from "../support/runner";
import { expectNoSecret } from "../support/secrets";

let dir: string;
let port: number;
const impostors: ChildProcess[] = [];

/** The impostor as uid 65534, on a loopback port or in a socket directory. */
function impostor(where: string[]): ChildProcess {
  const script = path.join(__dirname, "..", "support", "fakePostgres.py");
  const [command, ...args] = [...PYTHON_AS_NOBODY, script];
  const child = spawn(command, [...args, ...where.slice(0, 1), `${dir}/log`, `${dir}/cert.pem`, `${dir}/key.pem`, ...where.slice(1)], {
    stdio: "ignore",
  });
  impostors.push(child);
  return child;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "backend-url-"));
  fs.chmodSync(dir, 0o755);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  fs.writeFileSync(`${dir}/log`, "");
  fs.mkdirSync(`${dir}/sock`);
  for (const f of ["key.pem", "cert.pem", "log", "sock"]) fs.chownSync(`${dir}/${f}`, NOBODY, NOBODY);
  port = await freePort();
  impostor([String(port)]);
  impostor(["5432", `${dir}/sock`]);
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(`${dir}/sock/.s.PGSQL.5432`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(() => {
  for (const child of impostors) child.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A runner preview against `url` with a fresh password: its result, and whether the impostor got the password. */
async function preview(url: string): Promise<{ code: number | null; stderr: string; leaked: boolean }> {
  const password = `pw${randomBytes(9).toString("hex")}`;
  const r = await runRunner(["preview", "--stack", "dev"], { env: { PULUMI_BACKEND_URL: url, PGPASSWORD: password } });
  expect(r.all).not.toContain(password);
  return { code: r.code, stderr: r.stderr, leaked: fs.readFileSync(`${dir}/log`, "utf8").includes(password) };
}

describe("PULUMI_BACKEND_URL for PostgreSQL", () => {
  it.each([
    ["", "no sslmode (the driver's default, require, checks no certificate)"],
    ["?sslmode=disable", "sslmode=disable (it checks no certificate)"],
    ["?sslmode=require", "sslmode=require (it checks no certificate)"],
  ])("%j: refused before any engine starts, the password sent nowhere", async (query, why) => {
    const r = await preview(`postgres://pulumi@127.0.0.1:${port}/postgres${query}`);
    expect(r.leaked).toBe(false);
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringContaining(
        `fetchml-keys: PULUMI_BACKEND_URL (postgres://pulumi@127.0.0.1:${port}/postgres): ${why}, so whoever answers at 127.0.0.1 receives the password (at a loopback address, any account of this machine while the database is down)`,
      ),
    ]);
    expect(r.stderr).toContain("Add sslmode=verify-full&sslrootcert=<your CA's certificate> to the URL");
  });

  it("a Unix socket in a directory another account owns: refused, even with sslmode=verify-full (no TLS over a socket)", async () => {
    const sock = `${dir}/sock`;
    const r = await preview(
      `postgres://pulumi@/postgres?host=${sock}&port=5432&sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt`,
    );
    expect(r.leaked).toBe(false);
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringContaining(`its Unix socket directory ${sock} is not closed to other accounts (${sock} belongs to ${userName(NOBODY)})`),
    ]);
  });

  it("a '#' before the settings (the driver drops what follows it): refused, the password sent nowhere", async () => {
    const r = await preview(
      `postgres://pulumi@127.0.0.1:${port}/postgres#?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt`,
    );
    expect(r.leaked).toBe(false);
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining("fetchml-keys: PULUMI_BACKEND_URL: it holds a '#'")]);
  });

  it("verify-full (what README says): the engine takes no certificate but the CA's, and sends the impostor nothing", async () => {
    const r = await preview(
      `postgres://pulumi@127.0.0.1:${port}/postgres?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt`,
    );
    expect(r.leaked).toBe(false);
    expect(r.code).not.toBe(0);
  });

  /** Plain `pulumi <args>` through bin/fetchml-keys-isolated with a fresh password: its result, the password checked sent nowhere. */
  function plainPulumi(args: string[], env: Record<string, string>) {
    const password = `pw${randomBytes(9).toString("hex")}`;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-home-"));
    try {
      const r = spawnSync(path.join(PROJECT_ROOT, "bin", "fetchml-keys-isolated"), ["pulumi", ...args], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        timeout: 120_000,
        env: {
          ...process.env,
          PATH: `${path.dirname(ensureEngine().binary)}:${process.env.PATH}`,
          PULUMI_HOME: home,
          PULUMI_SKIP_UPDATE_CHECK: "true",
          PGPASSWORD: password,
          ...env,
        },
      });
      expectNoSecret(fs.readFileSync(`${dir}/log`, "utf8"), password, "what the impostor received");
      expectNoSecret(r.stdout + r.stderr, password, "the wrapper's output");
      return r;
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  }

  it("plain pulumi through bin/fetchml-keys-isolated: a weak URL is refused there too, the password sent nowhere", () => {
    const r = plainPulumi(["preview", "--stack", "dev", "--non-interactive"], {
      PULUMI_BACKEND_URL: `postgres://pulumi@127.0.0.1:${port}/postgres?sslmode=require`,
    });
    expect([r.status, r.stdout, r.stderr]).toEqual([
      1,
      "",
      expect.stringMatching(
        new RegExp(
          `^fetchml-keys: refused: PULUMI_BACKEND_URL \\(postgres://pulumi@127\\.0\\.0\\.1:${port}/postgres\\): sslmode=require .* Nothing was run\\.\\n$`,
        ),
      ),
    ]);
  });

  it("plain pulumi login through bin/fetchml-keys-isolated: a weak URL on the command line is refused too (recheck43 F6)", () => {
    const r = plainPulumi(["login", `postgres://pulumi@127.0.0.1:${port}/postgres?sslmode=require`], { PULUMI_BACKEND_URL: "" });
    expect([r.status, r.stderr]).toEqual([1, expect.stringContaining("sslmode=require (it checks no certificate)")]);
  });
});
