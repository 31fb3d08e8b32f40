/**
 * Exact counts of what a command starts, from `strace -f` (execve and the process-creating
 * clones only, so the traced programs run at nearly full speed). Polling /proc misses
 * processes that live a few milliseconds (a `sh -c` that execs at once, a `$(...)` subshell);
 * the kernel's own record of each fork and exec does not.
 *
 * Definitions: a *process* is a pid the trace saw created (fork, vfork, or a clone without
 * CLONE_THREAD) plus the traced command itself; an *exec* is a successful execve (a shell's
 * failed PATH lookups are not counted). A process that execs three times (sh -c -> script ->
 * node) is one process and three execs.
 */
import * as fs from "node:fs";

export interface Exec {
  pid: number;
  file: string;
  argv: string[];
}

export interface ExecTrace {
  /** Every process of the run: the traced command's pid and every pid it (or they) created. */
  pids: number[];
  /** Successful execs, in order. */
  execs: Exec[];
}

/** strace's options for a trace parseExecTrace reads; the command follows them. */
export function straceArgs(outFile: string): string[] {
  // --decode-pids=pidns: a fork inside a PID namespace (scripts/isolated.sh) returns the child's
  // pid there; strace names every line by its pid here, and this says which that is.
  // --seccomp-bpf: only the traced calls stop the process; without it every syscall of the
  // engine (Go: many) stops under ptrace, and the bench's times would measure strace.
  return [
    "-f",
    "--seccomp-bpf",
    "-qq",
    "--decode-pids=pidns",
    "-s",
    "65536",
    "-e",
    "trace=execve,fork,vfork,clone,clone3",
    "-e",
    "signal=none",
    "-o",
    outFile,
  ];
}

const CSTRING = /"((?:[^"\\]|\\.)*)"(\.\.\.)?/g;
const unescape = (s: string) =>
  s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: "\n", t: "\t", r: "\r", v: "\v", f: "\f" } as Record<string, string>)[e] ?? e;
  });

/** Reads a trace written with straceArgs (strace -f splits a call another pid interrupted). */
export function parseExecTrace(text: string): ExecTrace {
  const pending = new Map<number, string>();
  const calls: { pid: number; call: string }[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    let rest = m[2];
    if (rest.endsWith("<unfinished ...>")) {
      pending.set(pid, rest.slice(0, -"<unfinished ...>".length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    if (resumed) {
      rest = (pending.get(pid) ?? "") + resumed[1];
      pending.delete(pid);
    }
    calls.push({ pid, call: rest });
  }
  const pids = new Set<number>();
  const execs: Exec[] = [];
  for (const { pid, call } of calls) {
    if (pids.size === 0) pids.add(pid);
    const result = /=\s*(-?\d+)(?: \/\* (\d+) in strace's PID NS \*\/)?(?:\s.*)?$/.exec(call);
    if (!result) continue; // killed before the call returned
    const returned = Number(result[2] ?? result[1]);
    if (/^(fork|vfork|clone|clone3)\(/.test(call)) {
      if (returned > 0 && !/CLONE_THREAD/.test(call)) pids.add(returned);
    } else if (call.startsWith("execve(") && returned === 0) {
      const strings = [...call.matchAll(CSTRING)].map((s) => unescape(s[1]));
      const argvText = /^execve\("(?:[^"\\]|\\.)*", \[(.*?)\](?:\.\.\.)?, /.exec(call)?.[1] ?? "";
      execs.push({ pid, file: strings[0], argv: [...argvText.matchAll(CSTRING)].map((s) => unescape(s[1])) });
    }
  }
  return { pids: [...pids], execs };
}

export function readExecTrace(file: string): ExecTrace {
  return parseExecTrace(fs.readFileSync(file, "utf8"));
}
