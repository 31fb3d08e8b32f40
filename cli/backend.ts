/**
 * The state backend's URL, checked before any engine is started with it: the PostgreSQL
 * password must reach only the real database. The engine's driver (lib/pq) checks no
 * certificate below sslmode=verify-ca (its default, "require", encrypts but takes any) and
 * sends the password to whatever answers; at a loopback address, another local account answers
 * whenever the database is down (and the run's network namespace reaches the host's loopback).
 * Over a Unix socket lib/pq drops TLS whatever the URL says, so there only the socket's
 * directory vouches for the server: it must be closed to every other account.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const VERIFYING = new Set(["verify-ca", "verify-full"]);

export function backendUrlProblem(url: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!url || !/^postgres(ql)?:\/\//i.test(url)) return undefined;
  // lib/pq's own URL form: the host may be empty (a socket named by ?host=), which WHATWG URL refuses.
  const m = /^postgres(?:ql)?:\/\/(?:([^@/?]*)@)?([^/?]*)(\/[^?]*)?(?:\?(.*))?$/i.exec(url);
  if (!m)
    return "PULUMI_BACKEND_URL starts with postgres:// but is not a URL (postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=CA_FILE)";
  const [, credentials = "", hostPort, database = "", query = ""] = m;
  const params = new URLSearchParams(query);
  const user = credentials.split(":")[0];
  const shown = `postgres://${user ? `${user}@` : ""}${hostPort}${database}`;
  const host = params.get("host") ?? (decodeURIComponent(hostPort.replace(/:\d*$/, "").replace(/^\[(.*)\]$/, "$1")) || env.PGHOST || "");
  // Pulumi masks a password in USER:PASSWORD@, not in the query.
  if (params.has("password"))
    return `PULUMI_BACKEND_URL (${shown}): the password is in its query (password=), which is printed unmasked; take it out and set PGPASSWORD (or ~/.pgpass) instead`;
  if (host.startsWith("/")) {
    const open = openDirectory(host);
    if (!open) return undefined;
    return (
      `PULUMI_BACKEND_URL (${shown}): its Unix socket directory ${host} is not closed to other accounts (${open}), and over a ` +
      "socket the driver uses no TLS: whoever makes the socket there first receives the password. Use the directory the " +
      "server's own account keeps (such as /var/run/postgresql), or a TCP address with sslmode=verify-full"
    );
  }
  const mode = params.get("sslmode") ?? env.PGSSLMODE;
  if (mode !== undefined && VERIFYING.has(mode)) return undefined;
  return (
    `PULUMI_BACKEND_URL (${shown}): ${mode === undefined ? "no sslmode (the driver's default, require," : `sslmode=${mode} (it`} checks ` +
    `no certificate), so whoever answers at ${host || "localhost"} receives the password (at a loopback address, any ` +
    "account of this machine while the database is down). Add sslmode=verify-full&sslrootcert=<your CA's certificate> " +
    'to the URL (README "State for a team")'
  );
}

/**
 * Why another account could put a socket in this directory, or undefined. Every directory on the
 * way (links followed) must belong to root, to this user or to a system account (uid below 1000,
 * as the database server's own, such as postgres, is), and not be writable by every account,
 * but for a sticky one (such as /tmp) whose entry on the way belongs to such an account. A group
 * that may write it (Debian's /var/run/postgresql is postgres's, mode 2775) is the server's own.
 */
function openDirectory(dir: string, uid = process.geteuid?.() ?? 0): string | undefined {
  const trusted = (owner: number) => owner === 0 || owner === uid || (owner < 1000 && owner !== 65534);
  let at: string;
  try {
    at = fs.realpathSync(dir);
  } catch {
    return undefined; // no such directory: nothing answers there, and the engine says so
  }
  for (let entry: string | undefined; ; entry = at, at = path.dirname(at)) {
    const s = fs.statSync(at);
    if (!trusted(s.uid)) return `${at} belongs to uid ${s.uid}`;
    const shared = (s.mode & 0o002) !== 0;
    if (shared && (!(s.mode & 0o1000) || entry === undefined || !trusted(fs.lstatSync(entry).uid)))
      return `${at} is writable by every account, mode ${(s.mode & 0o7777).toString(8)}`;
    if (at === "/") return undefined;
  }
}
