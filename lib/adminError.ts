/**
 * An error that is for the admin: its message says what is wrong and where (names, paths,
 * counts, what to run), never a key, hash, session or file content, so it is printed as it
 * is, by a step into the engine's log and by the program as its refusal. Each such error
 * class extends this one; nobody keeps a list of them.
 */
export class AdminError extends Error {}
