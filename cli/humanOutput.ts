/**
 * The engine's output for a person: without the engine's notice that it uses this project's
 * offline plugins (the runner says so once, itself), with no line repeated back to back, and
 * each error block once (an inline program's error reaches the engine twice: logged by the
 * SDK's handler and returned as the run's result).
 */
export function humanOutput(write: (text: string) => void) {
  let pending = "";
  let last = "";
  /** While skipping a repeated error block: the indentation of its `error:` line. */
  let skipIndent: number | undefined;
  const shown = new Set<string>();
  const emit = (line: string) => {
    const indent = line.length - line.trimStart().length;
    if (skipIndent !== undefined) {
      if (line.trim() && indent > skipIndent) return;
      skipIndent = undefined;
    }
    if (/warning: using pulumi-(resource|language)-\w+ from \$PATH/.test(line) || (line.trim() && line === last)) return;
    const error = /^\s*error: (.*)$/.exec(line);
    if (error) {
      const message = error[1].trim();
      if (shown.has(message)) {
        skipIndent = indent;
        return;
      }
      shown.add(message);
    }
    last = line;
    write(`${line}\n`);
  };
  return {
    onOutput: (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(emit);
    },
    flush: () => {
      if (pending) emit(pending);
      pending = "";
    },
    /** Error lines the admin has already seen in the stream (without "error: "). */
    shown,
  };
}
