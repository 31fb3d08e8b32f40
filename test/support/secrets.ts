/**
 * Assertions on keys and hashes that never print them: a failure names what was compared,
 * never the values (test output ends up in CI logs).
 */
import { isDeepStrictEqual } from "node:util";
import { expect } from "vitest";

export function expectSameSecret(actual: unknown, expected: unknown, what: string): void {
  expect(actual === expected, `${what}: not the expected secret`).toBe(true);
}

export function expectDifferentSecret(actual: unknown, previous: unknown, what: string): void {
  expect(actual === previous, `${what}: still the previous secret`).toBe(false);
}

export function expectContainsSecret(text: string, secret: string, what: string): void {
  expect(text.includes(secret), `${what}: does not hold the expected secret`).toBe(true);
}

/** A file (or any text or value) that holds secrets is unchanged; a failure says so without printing it. */
export function expectUnchanged(actual: unknown, before: unknown, what: string): void {
  expect(isDeepStrictEqual(actual, before), `${what}: changed`).toBe(true);
}

export function expectNoSecret(text: string, secret: string, what: string): void {
  expect(text.includes(secret), `${what}: holds a secret it must not`).toBe(false);
}
