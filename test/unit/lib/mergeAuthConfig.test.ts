import fc from "fast-check";
import { parse, parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import { type ApiKeyEntry, renderApiKeyEntries } from "../../../lib/authSection";
import { mergeAuthConfig, removeAuthEntries } from "../../../lib/mergeAuthConfig";
import { AuthConfigError, readApiKeys } from "../../../lib/serverConfig";
import { ROLE_PRESETS } from "../../../config/roles";

const h = (c: string) => c.repeat(64);
const entry = (hash: string, role: keyof typeof ROLE_PRESETS = "researcher"): ApiKeyEntry => ({
  hash,
  ...structuredClone(ROLE_PRESETS[role]),
});

const SERVER = `# FetchML server
server:
  address: ":9101"   # keep me
  tls: {enabled: true, cert_file: /a.crt}

auth:
    enabled: true
    # whitelist comment
    ip_whitelist: ['127.0.0.1']
    api_keys:
        # service account, managed by hand
        svc-backup:
            hash: "${h("e")}"
            admin: false
        mallory:
            hash: "${h("d")}"
            admin: true
        alice:
            hash: "${h("a")}"
            admin: true
            roles: ["admin"]
            permissions:
                "jobs:read": true
                "jobs:create": true
                "jobs:update": true
    # trailing auth comment
logging:
  level: info
`;

/** The merge takes a Map (any username is a plain key); tests write entries as objects. */
const merge = (
  text: string | undefined,
  entries: Record<string, ApiKeyEntry> | Map<string, ApiKeyEntry>,
  preserve: readonly string[],
  label?: string,
) => mergeAuthConfig(text, entries instanceof Map ? entries : new Map(Object.entries(entries)), preserve, label);

describe("renderApiKeyEntries", () => {
  it("renders FetchML's entry shape in name order", () => {
    const out = renderApiKeyEntries([
      { name: "bob", apiKeyHash: h("b"), access: ROLE_PRESETS.analyst },
      { name: "alice", apiKeyHash: h("a"), access: ROLE_PRESETS.admin },
    ]);
    expect([...out.keys()]).toEqual(["alice", "bob"]);
    expect(out.get("bob")).toEqual({
      hash: h("b"),
      admin: false,
      roles: ["analyst"],
      permissions: { "jobs:read": true, "jobs:create": false, "jobs:update": false },
    });
  });

  it("refuses a hash that is not 64 lowercase hex characters", () => {
    expect(() => renderApiKeyEntries([{ name: "bob", apiKeyHash: "ABC", access: ROLE_PRESETS.admin }])).toThrow(/bob: hash is not/);
  });
});

describe("mergeAuthConfig with names JavaScript objects already have", () => {
  it("adds, keeps and revokes constructor, valueOf and __proto__ like any other name", () => {
    const text = `auth:\n  api_keys:\n    valueOf:\n      hash: "${h("1")}"\n    __proto__:\n      hash: "${h("2")}"\n    toString:\n      hash: "${h("3")}"\n`;
    const result = merge(text, new Map([["constructor", entry(h("c"))]]), ["toString"]);
    expect(result.added).toEqual(["constructor"]);
    expect(result.removed.sort()).toEqual(["__proto__", "valueOf"]);
    expect([...readApiKeys(result.text, "x").keys()].sort()).toEqual(["constructor", "toString"]);
    expect(removeAuthEntries(result.text, ["constructor"]).removed).toEqual(["constructor"]);
  });
});

describe("mergeAuthConfig", () => {
  it("adds, updates and revokes entries and leaves every other line byte-for-byte", () => {
    const r = merge(SERVER, { alice: entry(h("1"), "admin"), bob: entry(h("b")) }, ["svc-backup"]);
    expect(r).toMatchObject({ changed: true, added: ["bob"], updated: ["alice"], removed: ["mallory"] });
    const keys = parse(r.text).auth.api_keys;
    expect(keys.alice.hash).toBe(h("1"));
    expect(keys.bob).toEqual(entry(h("b")));
    expect(keys["svc-backup"]).toEqual({ hash: h("e"), admin: false });
    expect(keys.mallory).toBeUndefined();
    // Every line outside the touched entries survives exactly, comments included.
    const untouched = SERVER.split("\n").filter((l) => !/mallory|alice|"[a-f0-9]{64}"|admin:|roles:|permissions:|"jobs:/.test(l));
    const after = r.text.split("\n");
    for (const line of untouched) expect(after).toContain(line);
    expect(r.text.startsWith(SERVER.slice(0, SERVER.indexOf("    api_keys:")))).toBe(true);
    expect(r.text.endsWith("    # trailing auth comment\nlogging:\n  level: info\n")).toBe(true);
    // New entries use the file's own indentation.
    expect(r.text).toContain(`        bob:\n            hash: "${h("b")}"`);
  });

  it("changes nothing when the entries are already as planned", () => {
    const first = merge(SERVER, { alice: entry(h("a"), "admin") }, ["svc-backup"]);
    const second = merge(first.text, { alice: entry(h("a"), "admin") }, ["svc-backup"]);
    expect(first.updated).toEqual([]);
    expect(second).toMatchObject({ changed: false, added: [], updated: [], removed: [] });
    expect(second.text).toBe(first.text);
  });

  it("creates a missing file with auth enabled", () => {
    const r = merge(undefined, { bob: entry(h("b")) }, []);
    expect(parse(r.text)).toEqual({ auth: { enabled: true, api_keys: { bob: entry(h("b")) } } });
  });

  it("adds an auth section to a file without one, and api_keys to an auth without them", () => {
    const noAuth = "server:\n  port: 1 # c\n";
    const r1 = merge(noAuth, { bob: entry(h("b")) }, []);
    expect(r1.text.startsWith(noAuth)).toBe(true);
    expect(parse(r1.text).auth).toEqual({ enabled: true, api_keys: { bob: entry(h("b")) } });
    const noKeys = "auth:\n  enabled: false # off for now\n  ip_whitelist: []\nother: 1\n";
    const r2 = merge(noKeys, { bob: entry(h("b")) }, []);
    expect(parse(r2.text)).toEqual({ auth: { enabled: false, ip_whitelist: [], api_keys: { bob: entry(h("b")) } }, other: 1 });
    expect(r2.text).toContain("  enabled: false # off for now\n");
  });

  it("replaces an empty `api_keys: {}` or `api_keys:` with the entries", () => {
    for (const empty of ["api_keys: {}", "api_keys:", "api_keys: ~"]) {
      const r = merge(`auth:\n  enabled: true\n  ${empty}\nx: 1\n`, { bob: entry(h("b")) }, []);
      expect(parse(r.text)).toEqual({ auth: { enabled: true, api_keys: { bob: entry(h("b")) } }, x: 1 });
    }
  });

  it("quotes usernames YAML would read as booleans", () => {
    const r = merge(undefined, { yes: entry(h("b")), on: entry(h("c")) }, []);
    expect(Object.keys(parse(r.text).auth.api_keys).sort()).toEqual(["on", "yes"]);
  });

  it("fails on malformed YAML without quoting the file (it holds hashes)", () => {
    const bad = `auth:\n  api_keys:\n    bob: {hash: "${h("b")}"\n  x: [\n`;
    expect(() => merge(bad, {}, [])).toThrow(AuthConfigError);
    try {
      merge(bad, {}, []);
    } catch (e) {
      expect((e as Error).message).toMatch(/not valid YAML: line \d+ column \d+/);
      expect((e as Error).message).not.toContain(h("b"));
    }
  });

  it("refuses a top level that is not a mapping, and flow-style auth", () => {
    expect(() => merge("- a\n- b\n", {}, [])).toThrow(/top level is not a mapping/);
    expect(() => merge("auth: {enabled: true}\n", { b: entry(h("b")) }, [])).toThrow(/auth must be a block mapping/);
    expect(() => merge(`auth:\n  api_keys: {a: {hash: x}}\n`, { b: entry(h("b")) }, [])).toThrow(/api_keys must be a block/);
  });

  it("refuses duplicate keys rather than guessing which one FetchML reads", () => {
    expect(() => merge("auth:\n  enabled: true\nauth:\n  enabled: false\n", {}, [])).toThrow(AuthConfigError);
  });
});

describe("removeAuthEntries", () => {
  it("takes out exactly the named entries and nothing else", () => {
    const r = removeAuthEntries(SERVER, ["alice", "nobody"]);
    expect(r.removed).toEqual(["alice"]);
    const keys = parse(r.text).auth.api_keys;
    expect(Object.keys(keys)).toEqual(["svc-backup", "mallory"]);
    expect(r.text).toContain("        # service account, managed by hand\n");
  });

  it("leaves an explicit empty map when the last entry goes", () => {
    const only = "auth:\n  enabled: true\n  api_keys:\n    bob:\n      hash: x\nlogging: {}\n";
    const r = removeAuthEntries(only, ["bob"]);
    expect(r.text).toBe("auth:\n  enabled: true\n  api_keys: {}\nlogging: {}\n");
  });
});

// Property-style: over generated server configs (other settings, comments, indentation,
// existing entries), merging keeps the rest of the document equal and api_keys as planned.
const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
const scalar = fc.oneof(fc.integer(), fc.boolean(), fc.stringMatching(/^[A-Za-z0-9 ./:-]{0,12}$/));
const settings = fc.dictionary(
  name.filter((n) => n !== "auth"),
  fc.oneof(scalar, fc.dictionary(name, scalar, { maxKeys: 3 })),
  { maxKeys: 4 },
);
const hash = fc.stringMatching(/^[0-9a-f]{64}$/);
const role = fc.constantFrom("admin", "researcher", "analyst") as fc.Arbitrary<keyof typeof ROLE_PRESETS>;

function renderServer(other: Record<string, unknown>, existing: Record<string, string>, indent: number, withComments: boolean): string {
  const doc = parseDocument("{}");
  doc.contents = doc.createNode({
    ...other,
    auth: {
      enabled: true,
      ip_whitelist: ["127.0.0.1"],
      api_keys: Object.fromEntries(Object.entries(existing).map(([n, x]) => [n, { hash: x, admin: false }])),
    },
  }) as never;
  if (withComments) doc.commentBefore = " generated server config";
  let text = doc.toString({ indent });
  if (withComments) text = text.replace(/^(\s*)ip_whitelist:/m, "$1# only the LAN\n$1ip_whitelist:");
  return text.replace("api_keys: {}\n", "api_keys: {}\n");
}

describe("mergeAuthConfig over generated configs", () => {
  it("keeps every other setting and comment and yields exactly the planned entries", () => {
    fc.assert(
      fc.property(
        settings,
        fc.dictionary(name, hash, { maxKeys: 4 }),
        fc.dictionary(name, fc.tuple(hash, role), { minKeys: 1, maxKeys: 4 }),
        fc.constantFrom(2, 4),
        fc.boolean(),
        (other, existing, wanted, indent, withComments) => {
          const before = renderServer(other, existing, indent, withComments);
          const entries = Object.fromEntries(Object.entries(wanted).map(([n, [x, r]]) => [n, entry(x, r)]));
          const preserve = Object.keys(existing).filter((n, i) => i % 2 === 0 && !(n in entries));
          const result = merge(before, entries, preserve);
          const oldJs = parse(before);
          const newJs = parse(result.text);
          const expectedKeys: Record<string, unknown> = {};
          for (const n of preserve) expectedKeys[n] = oldJs.auth.api_keys[n];
          Object.assign(expectedKeys, entries);
          expect(newJs.auth.api_keys).toEqual(expectedKeys);
          delete oldJs.auth.api_keys;
          delete newJs.auth.api_keys;
          expect(newJs).toEqual(oldJs);
          if (withComments) {
            expect(result.text).toContain("# generated server config");
            expect(result.text).toContain("# only the LAN");
          }
          // Idempotent: a second run plans nothing.
          expect(merge(result.text, entries, preserve).changed).toBe(false);
          // And destroy takes back exactly what was written.
          const removed = removeAuthEntries(result.text, Object.keys(entries));
          const afterRemove = parse(removed.text);
          expect(afterRemove.auth.api_keys ?? {}).toEqual(Object.fromEntries(preserve.map((n) => [n, expectedKeys[n]])));
        },
      ),
      { numRuns: 300 },
    );
  });
});

// Issue 24 item 5: a hostile or huge file is refused, by the reader (preview) exactly as by the
// merge (up), naming line and column. Before: the alias chain read fine and the merge threw a
// bare ReferenceError; a list or inline api_keys read as "no entries" (preview green) and only
// the merge refused, without a position.
describe("server config limits, the same at preview (readApiKeys) and at up (merge)", () => {
  const both = (text: string) => [() => readApiKeys(text, "api.yaml"), () => merge(text, { b: entry(h("b")) }, [], "api.yaml")];
  const laughs = (levels: number) => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < levels; i++) {
      const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
    }
    return `${lines.join("\n")}\nauth:\n  api_keys:\n    alice:\n      hash: "${h("a")}"\n`;
  };

  it("refuses an entry name with a line break or a direction mark (it could forge plan lines), at preview and at up, naming it escaped", () => {
    for (const name of ["x\\nno access changes", "x\\u001b[2K", "bob\\u202e", "x\\u2028y"]) {
      const text = `auth:\n  api_keys:\n    "${name}":\n      hash: "${h("a")}"\n`;
      for (const read of both(text))
        expect(read).toThrow(
          `api.yaml: line 3 column 5: the entry name "${name.replace("\\n", "\\u000a")}" holds a control or text-direction character`,
        );
    }
    expect([...readApiKeys(`auth:\n  api_keys:\n    "ünïcode-ok":\n      hash: "${h("a")}"\n`, "x").keys()]).toEqual(["ünïcode-ok"]);
  });

  it("refuses an alias bomb with the line and column of the expansion", () => {
    for (const read of both(laughs(9)))
      expect(read).toThrow(/^api\.yaml: line \d+ column \d+: its aliases \(\*name\) expand to more than 100 copies/);
    // A few honest aliases are fine, and resolved as FetchML resolves them.
    const honest = `defaults: &perm {"jobs:read": true}\nauth:\n  api_keys:\n    bob:\n      hash: "${h("b")}"\n      permissions: *perm\n`;
    expect(readApiKeys(honest, "x").get("bob")).toEqual({ hash: h("b"), permissions: { "jobs:read": true } });
  });

  it("refuses an alias to no anchor, at its line and column", () => {
    for (const read of both(`server:\n  port: 1\nworker: *nothing\n`)) expect(read).toThrow(/^api\.yaml: line 3 column 9: an alias/);
  });

  it("refuses nesting deeper than the limit, at its line and column", () => {
    const deep = `auth:\n  enabled: true\nx: ${"[".repeat(70)}${"]".repeat(70)}\n`;
    for (const read of both(deep)) expect(read).toThrow(/^api\.yaml: line 3 column \d+: nested more than 64 levels deep/);
  });

  it("refuses a file over 4 MiB", () => {
    const big = `# ${"x".repeat(4 * 1024 * 1024)}\nauth:\n  api_keys: {}\n`;
    for (const read of both(big)) expect(read).toThrow(/^api\.yaml: 4194\d+ bytes, more than the 4194304 \(4 MiB\)/);
  });

  it("refuses api_keys written as a list or inline, naming line and column and what to write instead", () => {
    const cases: Array<[string, RegExp]> = [
      [
        `auth:\n  api_keys:\n    - alice:\n        hash: "${h("a")}"\n`,
        /line 3 column 5: auth\.api_keys must be a block mapping \(user name to entry\), not a list \("- " items\)/,
      ],
      [
        `auth:\n  api_keys: [{alice: {hash: "${h("a")}"}}]\n`,
        /line 2 column 13: auth\.api_keys must be a block mapping .*not a list \(\[\.\.\.\]\)/,
      ],
      [
        `auth:\n  api_keys: {alice: {hash: "${h("a")}"}}\n`,
        /line 2 column 13: auth\.api_keys must be a block mapping .*not a mapping written inline/,
      ],
      [`auth: {api_keys: {}}\n`, /line 1 column 7: auth must be a block mapping, not a mapping written inline/],
      [`auth: on\n`, /line 1 column 7: auth must be a block mapping, not a single value/],
    ];
    for (const [text, message] of cases) {
      for (const read of both(text)) {
        expect(read).toThrow(AuthConfigError);
        expect(read).toThrow(message);
        expect(read).toThrow(/write each user as "<name>:" on its own line|write "auth:" on its own line/);
        try {
          read();
        } catch (e) {
          expect((e as Error).message.includes(h("a"))).toBe(false);
        }
      }
    }
    // An empty inline map is what the merge itself writes when the last entry goes: accepted.
    expect(readApiKeys(`auth:\n  api_keys: {}\n`, "x").size).toBe(0);
  });

  it("with aliases elsewhere in the file, still changes no byte outside auth.api_keys", () => {
    const text = `base: &base\n  level: info   # keep\naudit: *base\nworker:\n  <<: *base\n${SERVER.slice(SERVER.indexOf("auth:"))}`;
    const r = merge(text, { alice: entry(h("1"), "admin") }, ["svc-backup"]);
    expect(r.text.slice(0, r.text.indexOf("auth:"))).toBe(text.slice(0, text.indexOf("auth:")));
    expect(r.text.endsWith("    # trailing auth comment\nlogging:\n  level: info\n")).toBe(true);
  });
});

describe("the safety net (verifyEdit) sees every copy of the auth section", () => {
  const alice = `    alice:\n      hash: "${h("a")}"\n      admin: false\n`;
  it("refuses a file that copies auth or auth.api_keys elsewhere with an alias (every write would change the copy), at preview already", () => {
    const aliased = `auth: &au\n  enabled: true\n  api_keys:\n${alice}legacy_auth: *au\n`;
    const where = "x: line 7 column 14: this alias (*au) copies auth, which every write changes";
    expect(() => merge(aliased, { alice: entry(h("b")) }, [], "x")).toThrow(where);
    expect(() => readApiKeys(aliased, "x")).toThrow(where);
    const mergeKey = `auth: &au\n  enabled: true\n  api_keys:\n${alice}server:\n  <<: *au\n`;
    expect(() => merge(mergeKey, { dave: entry(h("d")) }, [])).toThrow(/this alias \(\*au\) copies auth/);
    const keys = `auth:\n  enabled: true\n  api_keys: &k\n${alice}mirror: *k\n`;
    expect(() => merge(keys, { dave: entry(h("d")) }, [])).toThrow(/this alias \(\*k\) copies auth.api_keys/);
    // An anchor nothing copies changes nothing: accepted as before.
    const unused = `auth: &au\n  enabled: true\n  api_keys:\n${alice}`;
    expect(merge(unused, { alice: entry(h("b")) }, []).updated).toEqual(["alice"]);
  });

  it("fills in an empty `auth:` (null) like an absent one", () => {
    for (const text of ["auth: ~\nserver: 1\n", "auth:\nserver: 1\n"]) {
      const r = merge(text, { bob: entry(h("b")) }, []);
      expect(r.added).toEqual(["bob"]);
      expect([...readApiKeys(r.text, "x").keys()]).toEqual(["bob"]);
      expect(r.text).toContain("server: 1\n");
    }
  });
});
