/**
 * The state backend's URL, checked before any engine is started with it: the PostgreSQL
 * password must reach only the real database. The engine's driver (lib/pq) checks no
 * certificate below sslmode=verify-ca (its default, "require", encrypts but takes any) and
 * sends the password to whatever answers; at a loopback address, another local account answers
 * whenever the database is down (and the run's network namespace reaches the host's loopback).
 * Over a Unix socket lib/pq drops TLS whatever the URL says, so there only the socket's
 * directory vouches for the server: it must be closed to every other account (and an abstract
 * socket, `@name`, has no directory at all).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { openOnTheWay, replaceableFile, systemRule } from "../lib/safePath";

export function backendUrlProblem(url: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!url || !/^postgres(ql)?:\/\//i.test(url)) return undefined;
  const parsed = parsePostgresUrl(url);
  if (typeof parsed === "string")
    return `PULUMI_BACKEND_URL: ${parsed}; write it as postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=CA_FILE`;
  const { shown, host, params } = parsed;
  // Pulumi masks a password in USER:PASSWORD@, not in the query.
  if (params.has("password"))
    return `PULUMI_BACKEND_URL (${shown}): the password is in its query (password=), which is printed unmasked; take it out and set PGPASSWORD (or ~/.pgpass) instead`;
  // Where lib/pq connects is then not the host this check reads: hostaddr (a TCP address, even
  // beside a socket directory), a service (its host comes from a pg_service.conf).
  const elsewhere = [
    ...["hostaddr", "service"].filter((p) => params.has(p)).map((p) => `${p}= in its query`),
    ...["PGHOSTADDR", "PGSERVICE", "PGSERVICEFILE"].filter((v) => env[v] !== undefined).map((v) => `${v} in the environment`),
  ];
  if (elsewhere.length > 0)
    return (
      `PULUMI_BACKEND_URL (${shown}): ${elsewhere.join(", ")} would have the driver connect somewhere this check cannot ` +
      "follow; take it out and name the server by its host alone (host= or HOST:PORT, with sslmode=verify-full)"
    );
  const where = host || env.PGHOST || "";
  if (where.includes(","))
    return `PULUMI_BACKEND_URL (${shown}): its host ${where} is a list, and the driver tries each in turn; name one server`;
  if (where.startsWith("@"))
    return (
      `PULUMI_BACKEND_URL (${shown}): its host ${where} is an abstract Unix socket to the driver: no TLS there, and any ` +
      "account of this machine can make that socket first. Use the socket directory the server's own account keeps " +
      "(such as /var/run/postgresql), or a TCP address with sslmode=verify-full"
    );
  if (where.startsWith("/")) {
    const open = openDirectory(where);
    if (!open) return undefined;
    return (
      `PULUMI_BACKEND_URL (${shown}): its Unix socket directory ${where} is not closed to other accounts (${open}), and over a ` +
      "socket the driver uses no TLS: whoever makes the socket there first receives the password. Use the directory the " +
      "server's own account keeps (such as /var/run/postgresql), or a TCP address with sslmode=verify-full"
    );
  }
  const mode = params.get("sslmode") ?? env.PGSSLMODE;
  const rootCert = params.get("sslrootcert") ?? env.PGSSLROOTCERT;
  if (mode === "verify-full" || (mode === "verify-ca" && rootCert)) {
    const open = rootCert ? replaceableFile(rootCert, systemRule()) : undefined;
    if (!open) return undefined;
    return `PULUMI_BACKEND_URL (${shown}): its sslrootcert ${rootCert} could be replaced by another account (${open}), and with it the server's certificate; keep the CA's certificate where only root or you can change it`;
  }
  const why =
    mode === "verify-ca"
      ? "sslmode=verify-ca without sslrootcert (any certificate a public CA signed passes, for any name)"
      : mode === undefined
        ? "no sslmode (the driver's default, require, checks no certificate)"
        : `sslmode=${mode} (it checks no certificate)`;
  return (
    `PULUMI_BACKEND_URL (${shown}): ${why}, so whoever answers at ${where || "localhost"} receives the password (at a ` +
    "loopback address, any account of this machine while the database is down). Add " +
    'sslmode=verify-full&sslrootcert=<your CA\'s certificate> to the URL (README "State for a team")'
  );
}

/**
 * The URL read the way the engine's driver reads it (Go's net/url, then lib/pq), or why it is
 * refused: anything the two could read differently (a fragment, a parameter twice, a ';', a
 * host both before the path and in the query, which lib/pq resolves by sorting) is refused
 * rather than guessed at.
 */
function parsePostgresUrl(url: string): { shown: string; host: string; params: URLSearchParams } | string {
  if (url.includes("#")) return "it holds a '#' (the driver drops everything after it, settings included)";
  const [beforeQuery, ...rest] = url.split("?");
  const query = rest.join("?");
  const afterScheme = beforeQuery.slice(beforeQuery.indexOf("://") + 3);
  const slash = afterScheme.indexOf("/");
  const authority = slash >= 0 ? afterScheme.slice(0, slash) : afterScheme;
  const database = slash >= 0 ? afterScheme.slice(slash) : "";
  const at = authority.lastIndexOf("@");
  const user = at >= 0 ? authority.slice(0, at).split(":")[0] : "";
  const hostPort = authority.slice(at + 1);
  const pairs = query === "" ? [] : query.split("&");
  if (pairs.some((pair) => pair.includes(";"))) return "its query holds a ';' (the driver skips such a setting)";
  const params = new URLSearchParams(query);
  const keys = [...params.keys()];
  // lib/pq pastes each name into its connection string unquoted: a name with a space, quote or
  // '=' in it sets settings of its own (hostaddr, sslmode) that this check would not see.
  if (keys.some((key) => !/^[a-z_]+$/.test(key)))
    return "its query has a setting whose name is not only lower-case letters and underscores (the driver would read other settings out of it)";
  const twice = keys.find((key, i) => keys.indexOf(key) !== i);
  if (twice) return `its query sets ${twice} twice`;
  const shown = `postgres://${user ? `${user}@` : ""}${hostPort}${database}`;
  let named: string;
  try {
    named = decodeURIComponent(hostPort.replace(/:\d*$/, "").replace(/^\[(.*)\]$/, "$1"));
  } catch {
    return "its host is not valid percent-encoding";
  }
  const queried = params.get("host");
  if (named && queried !== null) return `it names a host twice (${named}, and host=${queried} in its query)`;
  return { shown, host: queried ?? named, params };
}

/**
 * The local files a PostgreSQL URL relies on (its socket directory, its CA certificate), whose
 * real owners scripts/isolated.sh looks up before an ordinary user's run enters its user
 * namespace (cli/owners.ts); none for any other URL or one the check refuses anyway.
 */
export function backendPaths(url: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!url || !/^postgres(ql)?:\/\//i.test(url)) return [];
  const parsed = parsePostgresUrl(url);
  if (typeof parsed === "string") return [];
  const where = parsed.host || env.PGHOST || "";
  const rootCert = parsed.params.get("sslrootcert") ?? env.PGSSLROOTCERT;
  return [...(where.startsWith("/") ? [path.join(where, ".s.PGSQL")] : []), ...(rootCert ? [path.resolve(rootCert)] : [])];
}

/**
 * Why another account could put a socket in this directory, or undefined: the directory must
 * exist (whoever may write its parent could make it), and every directory on the way, itself
 * included, be closed by lib/safePath's systemRule.
 */
function openDirectory(dir: string, uid = process.geteuid?.() ?? 0): string | undefined {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return `${dir} does not exist (another account may be able to make it)`;
  return openOnTheWay(path.join(dir, ".s.PGSQL"), systemRule(uid));
}

/**
 * bin/fetchml-keys-isolated runs this, with the command's arguments, before plain `pulumi`
 * starts an engine: the environment's backend, and a URL given on the command line (`pulumi
 * login postgres://...`), are checked as the runner checks its own (engineEnvironment).
 */
if (require.main === module) {
  const urls = [process.env.PULUMI_BACKEND_URL, ...process.argv.slice(2).filter((arg) => /^postgres(ql)?:\/\//i.test(arg))];
  const problems = urls.map((url) => backendUrlProblem(url)).filter((p) => p !== undefined);
  if (problems.length > 0) {
    process.stderr.write(`fetchml-keys: refused: ${problems.join("; ")}. Nothing was run.\n`);
    process.exit(1);
  }
}
