/**
 * A refusal of the runner itself (a user command it cannot do, an output that is not there, a
 * stack without its file): its message is said as it is, once, and the run exits 1. It is not
 * an engine failure, so it is never read for the engine's error lines or given a hint
 * (cli/errors.ts). Each such class extends this one, and cli/main.ts asks only this.
 *
 * Not an AdminError (lib/adminError.ts): that one says the program or a step may print the
 * message into the engine's output and the run's log. These never come from the program or a
 * step; they are said on the terminal of the admin who typed the command, and may quote what
 * was typed (an output's name, a URN).
 */
export class CommandError extends Error {}
