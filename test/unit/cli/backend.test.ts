/** Which state backend URLs the runner starts an engine with (cli/backend.ts): the PostgreSQL password goes to the database only. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backendUrlProblem } from "../../../cli/backend";
import { PROJECT_ROOT } from "../../../cli/paths";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "backend-"));
  fs.chmodSync(dir, 0o755);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("backendUrlProblem", () => {
  it("leaves other backends alone and accepts a verified TLS connection (in the URL or PGSSLMODE)", () => {
    for (const url of [undefined, "", "file:///var/lib/state", "s3://bucket"]) expect(backendUrlProblem(url, {})).toBeUndefined();
    expect(backendUrlProblem("postgres://pulumi@db.lan:5432/pulumi?sslmode=verify-full&sslrootcert=/ca.pem", {})).toBeUndefined();
    const ca = path.join(dir, "ca.pem");
    fs.writeFileSync(ca, "", { mode: 0o644 });
    expect(backendUrlProblem(`postgresql://pulumi:pw@db.lan/pulumi?sslmode=verify-ca&sslrootcert=${ca}`, {})).toBeUndefined();
    expect(backendUrlProblem("postgres://pulumi@db.lan/pulumi", { PGSSLMODE: "verify-full" })).toBeUndefined();
  });

  it("refuses an unverified one, naming the URL without its password and the fix", () => {
    const problem = backendUrlProblem("postgres://pulumi:s3cr3t@[::1]:5433/pulumi?sslmode=prefer", {});
    expect(problem).toBe(
      "PULUMI_BACKEND_URL (postgres://pulumi@[::1]:5433/pulumi): sslmode=prefer (it checks no certificate), so whoever answers " +
        "at ::1 receives the password (at a loopback address, any account of this machine while the database is down). " +
        'Add sslmode=verify-full&sslrootcert=<your CA\'s certificate> to the URL (README "State for a team")',
    );
    expect(backendUrlProblem("postgres://pulumi@db.lan/pulumi?sslmode=verify-full", { PGSSLMODE: "disable" })).toBeUndefined();
    expect(backendUrlProblem("postgres://pulumi@db.lan/pulumi?sslmode=disable", { PGSSLMODE: "verify-full" })).toMatch(/sslmode=disable/);
  });

  it("refuses verify-ca without a CA of its own (any publicly signed certificate passes), and a CA file others could replace", () => {
    expect(backendUrlProblem("postgres://pulumi@db.lan/pulumi?sslmode=verify-ca", {})).toMatch(/sslmode=verify-ca without sslrootcert/);
    const ca = path.join(dir, "ca.pem");
    fs.writeFileSync(ca, "");
    fs.chmodSync(ca, 0o666);
    expect(backendUrlProblem(`postgres://pulumi@db.lan/pulumi?sslmode=verify-full&sslrootcert=${ca}`, {})).toMatch(
      new RegExp(`its sslrootcert ${ca} could be replaced by another account \\(${ca} is writable by others, mode 666\\)`),
    );
  });

  it("refuses what the driver could read otherwise than this check: a '#', a setting twice, a ';', a host twice", () => {
    const port = "postgres://pulumi@127.0.0.1:5432/postgres";
    for (const [url, why] of [
      [`${port}#?sslmode=verify-full`, "it holds a '#'"],
      ["postgres://127.0.0.1:5432#@x/postgres?sslmode=verify-full", "it holds a '#'"],
      [`${port}?sslmode=verify-full&ssl%6Dode=disable`, "its query sets sslmode twice"],
      [`${port}?sslmode=verify-full;x`, "its query holds a ';'"],
      [`${port}?host=/var/run/postgresql`, "it names a host twice (127.0.0.1, and host=/var/run/postgresql in its query)"],
    ]) {
      expect(backendUrlProblem(url, {}), url).toMatch(new RegExp(`^PULUMI_BACKEND_URL: ${why.replace(/[()]/g, "\\$&")}`));
    }
    // The last '@' ends the user, as Go's URL parser reads it: the host is 127.0.0.1.
    expect(backendUrlProblem("postgres://a@b@127.0.0.1:5432/postgres", {})).toMatch(/whoever answers at 127\.0\.0\.1 receives/);
  });

  it("refuses what sends the driver elsewhere than the host checked: hostaddr, a service, a host list, an abstract socket (attack45 F2)", () => {
    // Each of these, beside a URL the check accepts, sent uid 65534's impostor the password (3 of 3).
    const socket = "postgres://pulumi@/pulumi?host=/var/run/postgresql";
    const tls = "postgres://pulumi@db.lan:5432/pulumi?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt";
    expect(backendUrlProblem(`${socket}&hostaddr=127.0.0.1`, {})).toMatch(
      /: hostaddr= in its query would have the driver connect somewhere this check cannot follow; take it out/,
    );
    expect(backendUrlProblem(socket, { PGHOSTADDR: "127.0.0.1" })).toMatch(/: PGHOSTADDR in the environment would have the driver/);
    expect(backendUrlProblem(`${tls}&service=pg`, { PGSERVICEFILE: "/tmp/x" })).toMatch(
      /: service= in its query, PGSERVICEFILE in the environment would have/,
    );
    expect(backendUrlProblem(tls.replace("db.lan:5432", "db.lan,127.0.0.1"), {})).toMatch(/its host db\.lan,127\.0\.0\.1 is a list/);
    expect(
      backendUrlProblem("postgres://pulumi@/pulumi?host=@pg&sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt", {}),
    ).toMatch(/its host @pg is an abstract Unix socket to the driver: no TLS there/);
    expect(backendUrlProblem("postgres://pulumi@/pulumi?sslmode=verify-full", { PGHOST: "@pg" })).toMatch(/abstract Unix socket/);
    // recheck45: a setting's name smuggling others past the check (lib/pq pastes names unquoted), 5 of 5 to uid 65534.
    const smuggled = `${tls}&tz%3D%27UTC%27%20sslmode%3D%27disable%27%20hostaddr=127.0.0.1`;
    expect(backendUrlProblem(smuggled, {})).toMatch(
      /^PULUMI_BACKEND_URL: its query has a setting whose name is not only lower-case letters/,
    );
    expect(backendUrlProblem(`${tls}&x%3D1%20password%3D%27s3cr3t%27%20y=1`, {})).not.toContain("s3cr3t");
  });

  it("refuses a password in the query (printed unmasked), never showing it", () => {
    const problem = backendUrlProblem("postgres://pulumi@db.lan/pulumi?sslmode=verify-full&password=s3cr3t", {});
    expect(problem).toMatch(/the password is in its query \(password=\)/);
    expect(problem).not.toContain("s3cr3t");
  });

  it("over a Unix socket (no TLS there): accepts a directory closed to others, refuses a shared or foreign one", () => {
    const own = path.join(dir, "run");
    fs.mkdirSync(own);
    fs.chmodSync(own, 0o2775);
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${own}`, {})).toBeUndefined();
    const shared = path.join(dir, "tmp");
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${shared}&sslmode=verify-full`, {})).toMatch(
      new RegExp(
        `its Unix socket directory ${shared} is not closed to other accounts \\(${shared} is writable by every account \\(mode 1777\\)\\)`,
      ),
    );
    // A group may write it only where that group is the owner's own, with no other account in
    // it: Debian's /var/run/postgresql (postgres:postgres, 2775) passes; root:nogroup does not.
    fs.chownSync(own, accountId("/etc/passwd", "postgres"), accountId("/etc/group", "postgres"));
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${own}`, {})).toBeUndefined();
    fs.chownSync(own, 0, 65534);
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${own}`, {})).toMatch(
      new RegExp(`\\(${own} is writable by group nogroup \\(gid 65534\\), not the group of root \\(uid 0\\) \\(mode 2775\\)\\)`),
    );
    fs.chownSync(own, 65534, 65534);
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${own}`, {})).toMatch(/belongs to nobody \(uid 65534\)/);
    expect(backendUrlProblem("postgres://pulumi@/pulumi", { PGHOST: shared })).toMatch(/not closed to other accounts/);
    // A link on the way, in a directory another account owns: that account can point it elsewhere later.
    const eve = path.join(dir, "eve");
    fs.mkdirSync(eve);
    const closed = path.join(dir, "closed");
    fs.mkdirSync(closed);
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${closed}`, {})).toBeUndefined();
    fs.symlinkSync(closed, path.join(eve, "pg"));
    fs.chownSync(eve, 65534, 65534);
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${eve}/pg`, {})).toMatch(
      new RegExp(`\\(${eve} belongs to nobody \\(uid 65534\\)\\)`),
    );
    // A directory that is not there yet could be made by whoever may write its parent.
    expect(backendUrlProblem(`postgres://pulumi@/pulumi?host=${shared}/pg`, {})).toMatch(
      /pg does not exist \(another account may be able to make it\)/,
    );
    expect(backendUrlProblem("postgres://pulumi@%zz/pulumi", {})).toMatch(/^PULUMI_BACKEND_URL: its host is not valid percent-encoding/);
  });
});

describe("backendUrlProblem in an ordinary admin's isolated run", () => {
  // Inside the run's user namespace (uid 4242 maps only itself) root's files read as the overflow
  // uid: scripts/isolated.sh looks the socket directory's and CA file's owners up before it enters.
  const inRun = (url: string) => {
    const script = `console.log(JSON.stringify(require("./dist/cli/backend").backendUrlProblem(process.env.PULUMI_BACKEND_URL) ?? "accepted"))`;
    const env = { PATH: `${path.join(PROJECT_ROOT, "node_modules", ".bin")}:/usr/bin:/bin`, HOME: dir, PULUMI_BACKEND_URL: url };
    const r = spawnSync("setpriv", ["--reuid=4242", "--regid=4242", "--clear-groups", "sh", "scripts/isolated.sh", "node", "-e", script], {
      cwd: PROJECT_ROOT,
      env,
      encoding: "utf8",
    });
    return JSON.parse(r.stdout.trim().split("\n").pop() ?? "null");
  };

  it("accepts root's socket directory and CA file, and still names another account's", () => {
    const sock = path.join(dir, "pg");
    fs.mkdirSync(sock, { mode: 0o755 });
    const ca = path.join(dir, "ca.pem");
    fs.writeFileSync(ca, "", { mode: 0o644 });
    expect(inRun(`postgres://pulumi@/pulumi?host=${sock}`)).toBe("accepted");
    expect(inRun(`postgres://pulumi@127.0.0.1/pulumi?sslmode=verify-full&sslrootcert=${ca}`)).toBe("accepted");
    fs.chownSync(sock, 1234, 1234);
    fs.chownSync(ca, 1234, 1234);
    expect(inRun(`postgres://pulumi@/pulumi?host=${sock}`)).toMatch(new RegExp(`\\(${sock} belongs to uid 1234\\)`));
    expect(inRun(`postgres://pulumi@127.0.0.1/pulumi?sslmode=verify-full&sslrootcert=${ca}`)).toMatch(
      new RegExp(`its sslrootcert ${ca} could be replaced by another account \\(${ca} belongs to uid 1234\\)`),
    );
  });
});

/** An account's or group's id (the test machine's postgres ones come with PostgreSQL). */
function accountId(file: string, name: string): number {
  const line = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} in ${file}`);
  return Number(line.split(":")[2]);
}
