/**
 * How components invoke the writer executables in writers/. The command strings are fixed
 * text (no secrets: the data travels on stdin) and relative to the project root, which is
 * the working directory of the command provider under `pulumi up` and the runner alike, so
 * the same state works from any checkout.
 */
export const WRITER_INTERPRETER = ["/bin/sh", "-c"];

export function writerCommand(script: "write-auth-config" | "write-secret-file" | "bitwarden-vault" | "guard-revocations", mode: string): string {
  return `exec node_modules/.bin/tsx writers/${script}.ts ${mode}`;
}
