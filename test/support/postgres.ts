/**
 * A throw-away PostgreSQL cluster for the team-mode tests: Debian's binaries, a data directory
 * in a temp dir, listening on a free loopback port only (no Unix socket others could reach),
 * password authentication (scram) for one superuser `pulumi` with a random password, TLS with a
 * certificate of a throw-away CA, which clients verify (sslmode=verify-full, as README says and
 * the runner requires). As root it runs as the `postgres` account (PostgreSQL refuses to run as
 * root).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./freePort";

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))) : [];
  if (versions.length === 0) throw new Error("PostgreSQL is not installed (Debian package postgresql; scripts/system-deps.sh installs it)");
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], "bin");
}

/** Runs as the `postgres` account when we are root (setpriv), as ourselves otherwise. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", command, ...args]];
}

export class TestPostgres {
  private server?: ChildProcess;
  readonly log: string[] = [];

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly password: string,
    private readonly bin: string,
  ) {}

  static async start(): Promise<TestPostgres> {
    const bin = binDir();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-pg-"));
    const data = path.join(dir, "data");
    const password = randomBytes(18).toString("base64url");
    const pwfile = path.join(dir, "pw");
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) {
      const pg = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
      const uid = Number(pg.stdout.trim());
      const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
      fs.chownSync(dir, uid, gid);
      fs.chownSync(pwfile, uid, gid);
    }
    fs.chmodSync(dir, 0o700);
    makeCertificates(dir);
    const [cmd, args] = asServerUser(path.join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "pulumi",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "--no-sync",
    ]);
    const init = spawnSync(cmd, args, { encoding: "utf8" });
    fs.rmSync(pwfile);
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const pg = new TestPostgres(dir, await freePort(), password, bin);
    await pg.startServer();
    return pg;
  }

  /**
   * A connection string for one table of state (each test stack its own); without the
   * password when it comes from PGPASSWORD instead, as the CI workflows set it.
   */
  url(table: string, options: { password?: boolean } = {}): string {
    const user = options.password === false ? "pulumi" : `pulumi:${this.password}`;
    return `postgres://${user}@127.0.0.1:${this.port}/postgres?sslmode=verify-full&sslrootcert=${this.dir}/ca.pem&table=${table}`;
  }

  /** Every row of a state table, as text (what an admin with database access could read). */
  dump(table: string): string {
    const r = spawnSync(
      path.join(this.bin, "psql"),
      ["-h", "127.0.0.1", "-p", String(this.port), "-U", "pulumi", "-d", "postgres", "-At", "-c", `SELECT key, data::text FROM ${table}`],
      { encoding: "utf8", env: { ...process.env, PGPASSWORD: this.password } },
    );
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
    return r.stdout;
  }

  async startServer(): Promise<void> {
    const [cmd, args] = asServerUser(path.join(this.bin, "postgres"), [
      "-D",
      path.join(this.dir, "data"),
      "-p",
      String(this.port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "fsync=off",
      "-c",
      "ssl=on",
      "-c",
      `ssl_cert_file=${path.join(this.dir, "server.pem")}`,
      "-c",
      `ssl_key_file=${path.join(this.dir, "server.key")}`,
    ]);
    const server = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.server = server;
    server.stdout!.on("data", (b: Buffer) => this.log.push(String(b)));
    server.stderr!.on("data", (b: Buffer) => this.log.push(String(b)));
    const deadline = Date.now() + 30_000;
    while (!this.log.join("").includes("ready to accept connections")) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`PostgreSQL did not start:\n${this.log.join("")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Immediate shutdown (SIGQUIT), as a crash or a pulled plug would look to a client. */
  async stopServer(): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGQUIT");
    await exited;
    this.log.length = 0;
  }

  async cleanup(): Promise<void> {
    await this.stopServer();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A CA (ca.pem) and the server's certificate for 127.0.0.1 it signed (server.pem, server.key: the server's own, 0600). */
function makeCertificates(dir: string): void {
  const openssl = (args: string[]) => {
    const r = spawnSync("openssl", args, { encoding: "utf8", cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=fetchml-keys test CA"]);
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  fs.writeFileSync(path.join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.cnf",
  ]);
  fs.rmSync(path.join(dir, "ca.key"));
  fs.chmodSync(path.join(dir, "server.key"), 0o600);
  const { uid, gid } = fs.statSync(dir);
  for (const f of ["ca.pem", "server.pem", "server.key"]) fs.chownSync(path.join(dir, f), uid, gid);
  fs.chmodSync(path.join(dir, "ca.pem"), 0o644);
}
