/**
 * The engine's output for a person: without the engine's notice that it uses this project's
 * offline plugins (the runner says so once, itself), nor the counts and the empty
 * `Diagnostics:` section that notice leaves behind, with no line repeated back to back, and
 * each error block once (an inline program's error reaches the engine twice: logged by the
 * SDK's handler and returned as the run's result). A failed step shows as its own last line
 * (e.g. which target, the reload's output, what is owed), not again inside the command
 * provider's `exit status 1: running "exec ./bin/fetchml-keys-step ..."` framing.
 */
const AMBIENT = /warning: using pulumi-(resource|language)-\w+ from \$PATH/;
/** The command provider's framing of a failed step; the step's output it repeats follows it. */
const STEP_FRAMING = /error: ((exit status \d+|signal: \w+): running "exec \.\/bin\/fetchml-keys-step [\w-]+":)\s*$/;
/** A resource row of the progress display ending in a step's own failure line. */
const STEP_FAILURE_ROW = /^ [ +~\-<>*]{1,3}\s*\S+:\S+:\S+ .* (auth|vault|delivery)-(write|revoke|remove): /;
/** The stack's row carrying the run's counts ("2 warnings; 1 message"). */
const STACK_COUNTS = /pulumi:pulumi:Stack \S+ .*\b\d+ (errors?|warnings?|messages?)\s*$/;

export function humanOutput(write: (text: string) => void) {
  let pending = "";
  let last = "";
  /** While skipping a repeated error block: the indentation of its `error:` line. */
  let skipIndent: number | undefined;
  /** While skipping the step output a framing line repeats: until the group's blank line. */
  let skipGroup = false;
  /** From the stack's count row to the end of the Diagnostics section: held, then cleaned. */
  let held: string[] | undefined;
  const shown = new Set<string>();

  const show = (line: string) => {
    const indent = line.length - line.trimStart().length;
    if (skipGroup) {
      if (line.trim()) return;
      skipGroup = false;
    }
    if (skipIndent !== undefined) {
      if (line.trim() && indent > skipIndent) return;
      skipIndent = undefined;
    }
    const framing = STEP_FRAMING.exec(line);
    if (framing) {
      shown.add(framing[1]);
      // In Diagnostics the repeated output follows at the same indentation, to the blank line.
      if (/^\s*error: /.test(line)) skipGroup = true;
      return;
    }
    if (AMBIENT.test(line) || STEP_FAILURE_ROW.test(line) || (line.trim() && line === last)) return;
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

  const release = () => {
    if (!held) return;
    const lines = withoutAmbientTraces(held);
    held = undefined;
    lines.forEach(show);
  };

  const emit = (line: string) => {
    if (!held && STACK_COUNTS.test(line)) held = [];
    if (!held) return show(line);
    held.push(line);
    // The section ends at the next top-level heading (Outputs:, Resources:, Duration: ...).
    if (/^\S/.test(line) && !/^(Diagnostics:|@ )/.test(line)) release();
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
      release();
    },
    /** Error lines the admin has already seen in the stream (without "error: "). */
    shown,
  };
}

/**
 * The held lines with the ambient-plugin warnings taken out of the counts too: the stack's
 * count row loses that many warnings, a resource group left empty loses its heading, and an
 * empty Diagnostics section goes altogether.
 */
function withoutAmbientTraces(lines: string[]): string[] {
  const start = lines.indexOf("Diagnostics:");
  const ambient = start < 0 ? 0 : lines.slice(start).filter((l) => AMBIENT.test(l)).length;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (STACK_COUNTS.test(line)) {
      out.push(lessWarnings(line, ambient));
      continue;
    }
    // A resource group in Diagnostics: its heading, its lines, a blank line.
    if (start >= 0 && i > start && /^  \S.*:$/.test(line)) {
      let end = i + 1;
      while (end < lines.length && lines[end].trim()) end++;
      const body = lines.slice(i + 1, end).filter((l) => !AMBIENT.test(l));
      if (body.length > 0) out.push(line, ...body);
      if (body.length > 0 && end < lines.length) out.push(lines[end]);
      i = end;
      continue;
    }
    out.push(line);
  }
  const at = out.indexOf("Diagnostics:");
  // Nothing left under the heading: the next line is blank or another heading.
  if (at >= 0 && !/^  \S/.test(out[at + 1] ?? "")) out.splice(at, out[at + 1] === "" ? 2 : 1);
  return out;
}

function lessWarnings(line: string, ambient: number): string {
  if (ambient === 0) return line;
  return line
    .replace(/\b(\d+) warnings?/, (_, n: string) => {
      const left = Number(n) - ambient;
      return left > 0 ? `${left} warning${left === 1 ? "" : "s"}` : "";
    })
    .replace(/; ;/, ";")
    .replace(/(\S) ; /, "$1 ")
    .replace(/;\s*$/, "")
    .trimEnd();
}
