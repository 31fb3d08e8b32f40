/** JSON from text that may not be JSON (a tool's output, a config value): the value, or `fallback`. */
export function parseJsonOr<T>(text: string, fallback: T): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
