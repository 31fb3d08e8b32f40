/**
 * What every writer executable shares: JSON from stdin (secrets never travel in argv) and
 * errors reported without echoing input, because the input holds keys or hashes.
 */
import { AuthConfigError } from "../lib/mergeAuthConfig";

export async function readStdinJson<T>(): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
  } catch {
    // JSON.parse's own message quotes the input: never show it.
    throw new InputError("stdin is not the expected JSON document");
  }
}

export class InputError extends Error {}

/** Runs a writer's main; on failure prints a message that is safe to log and exits 1. */
export function runWriter(name: string, main: (mode: string) => Promise<void>): void {
  const mode = process.argv[2] ?? "";
  main(mode).catch((e: unknown) => {
    process.stderr.write(`${name}: ${safeMessage(e)}\n`);
    process.exit(1);
  });
}

function safeMessage(e: unknown): string {
  if (e instanceof AuthConfigError || e instanceof InputError) return e.message;
  const errno = e as NodeJS.ErrnoException;
  if (errno && typeof errno.code === "string") {
    return `${errno.code}${errno.syscall ? ` during ${errno.syscall}` : ""}${errno.path ? ` on ${errno.path}` : ""}`;
  }
  return `unexpected ${(e as Error)?.name ?? "error"}`;
}
