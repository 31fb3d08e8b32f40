/**
 * Reading a server config on this machine without trusting what the path turns out to be:
 * its size is checked before it is read whole (a 50 MB file once cost 2 GB and minutes), and
 * a path that is a directory, too long, or under a missing directory becomes one plain line
 * naming the path and what is wrong, never a raw exception (an AuthConfigError: the program
 * refuses with it at preview, the steps print it at up).
 */
import * as fs from "node:fs";
import { AuthConfigError, SERVER_CONFIG_LIMITS, serverConfigTooLarge } from "../lib/serverConfig";

/** The config's text, `undefined` when there is no file; refuses anything but a regular file within the size limit. */
export function readConfigFile(file: string, label: string): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang the run (no effect on a regular file).
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw pathError(label, e);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new AuthConfigError(`${label}: is a directory; name the config file itself (e.g. ${label}/api.yaml)`);
    if (!st.isFile()) throw new AuthConfigError(`${label}: is not a regular file (a device, socket or pipe); name the config file itself`);
    if (st.size > SERVER_CONFIG_LIMITS.bytes) throw new AuthConfigError(serverConfigTooLarge(label, st.size));
    // Read at most one byte past the limit: a file that grew since fstat is refused, not read whole.
    const buffer = Buffer.alloc(Math.min(st.size, SERVER_CONFIG_LIMITS.bytes) + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = fs.readSync(fd, buffer, length, buffer.length - length, null)) > 0;) length += n;
    if (length > SERVER_CONFIG_LIMITS.bytes) throw new AuthConfigError(serverConfigTooLarge(label, length));
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/** One plain line for a path the system refused (`<label>: <what is wrong>`); other errors pass through. */
export function pathError(label: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  const bytes = Buffer.byteLength(label);
  const why: Record<string, string> = {
    EISDIR: "is a directory; name the config file itself",
    ENAMETOOLONG: `the path is too long (${bytes} bytes; Linux takes at most 4095, and 255 for each name in it)`,
    ENOTDIR: "a part of the path is a file, not a directory",
    ELOOP: "too many symbolic links on the path (a loop?)",
    EACCES: "permission denied (this user cannot read it, or cannot enter a directory on its path)",
    EPERM: "permission denied",
  };
  return code && why[code] ? new AuthConfigError(`${label}: ${why[code]}`) : e;
}
