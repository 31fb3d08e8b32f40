import { describe, expect, it } from "vitest";
import { hashApiKey, KEY_SPEC, keyFingerprint } from "../../../lib/keys";
import { renderMlConfig } from "../../../lib/mlConfig";
import { parse } from "smol-toml";

describe("hashApiKey", () => {
  it("is lowercase hex SHA-256 (FIPS 180-2 vectors)", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashApiKey("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

describe("keyFingerprint", () => {
  it("is 12 hex characters, differs between keys, and is not a prefix of the stored hash", () => {
    const key = "u3Kx9pQ2";
    expect(keyFingerprint(key)).toMatch(/^[0-9a-f]{12}$/);
    expect(keyFingerprint(key)).not.toBe(keyFingerprint(key + "x"));
    expect(hashApiKey(key).includes(keyFingerprint(key))).toBe(false);
  });
});

describe("KEY_SPEC", () => {
  it("gives at least 256 bits from characters that need no quoting", () => {
    const bits = (KEY_SPEC.length - 3) * Math.log2(62);
    expect(bits).toBeGreaterThanOrEqual(256);
    expect(KEY_SPEC.special).toBe(false);
  });
});

describe("renderMlConfig", () => {
  it("renders the seed's flat ~/.ml/config.toml that a TOML parser reads back", () => {
    const text = renderMlConfig("k3y", { workerHost: "fetchml.lan", workerPort: 9100, apiUrl: "ws://localhost:9100/ws" });
    expect(text).toBe('api_key = "k3y"\nworker_host = "fetchml.lan"\nworker_port = 9100\napi_url = "ws://localhost:9100/ws"\n');
    expect(parse(text)).toEqual({ api_key: "k3y", worker_host: "fetchml.lan", worker_port: 9100, api_url: "ws://localhost:9100/ws" });
  });

  it("quotes what TOML needs quoted", () => {
    const text = renderMlConfig('a"b\\c', { workerHost: "h", workerPort: 1, apiUrl: "wss://h/ws" });
    expect(parse(text).api_key).toBe('a"b\\c');
  });
});
