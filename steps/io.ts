/**
 * What every step shares: its request from stdin, checked against the step's schema (secrets
 * never travel in argv), and errors reported without echoing input, which holds keys or
 * hashes.
 */
import type { z } from "zod";
import { AdminError } from "../lib/adminError";

/** An error whose message is safe to print anywhere (names, paths, counts; never a key, hash or file content). */
export class SafeError extends AdminError {}

export async function readRequest<T>(schema: z.ZodType<T>): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    // JSON.parse's own message quotes the input: never show it.
    throw new SafeError("stdin is not a JSON document");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    // Paths only: an issue's message can quote the value.
    const where = parsed.error.issues.slice(0, 5).map((i) => i.path.join(".") || "(root)");
    throw new SafeError(`stdin does not match the step's request (at ${where.join(", ")})`);
  }
  return parsed.data;
}

/** One line of what a step did, for the engine's log (names only). */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function safeMessage(e: unknown): string {
  if (e instanceof AdminError) return e.message;
  const errno = e as NodeJS.ErrnoException;
  if (errno && typeof errno.code === "string") {
    return `${errno.code}${errno.syscall ? ` during ${errno.syscall}` : ""}${errno.path ? ` on ${errno.path}` : ""}`;
  }
  return `unexpected ${(e as Error)?.name ?? "error"}`;
}
