/**
 * Bitwarden's client-side cryptography, as the test server needs it to create accounts and
 * organizations the real `bw` can decrypt (facts: ../shared/reference/bitwarden-protocol.md).
 */
import * as crypto from "node:crypto";

export interface SymmetricKey {
  enc: Buffer;
  mac: Buffer;
}

/** Master key = PBKDF2-HMAC-SHA256(password, salt = email, iterations, 32 bytes). */
export function masterKey(password: string, salt: string, iterations: number): Buffer {
  return crypto.pbkdf2Sync(Buffer.from(password, "utf8"), Buffer.from(salt, "utf8"), iterations, 32, "sha256");
}

/** What the client sends as its password: PBKDF2(master key, salt = password, 1 iteration). */
export function serverAuthHash(master: Buffer, password: string): string {
  return crypto.pbkdf2Sync(master, Buffer.from(password, "utf8"), 1, 32, "sha256").toString("base64");
}

/** HKDF-Expand only (the client skips Extract): one block is enough for 32 bytes. */
function hkdfExpand(prk: Buffer, info: string): Buffer {
  return crypto
    .createHmac("sha256", prk)
    .update(Buffer.concat([Buffer.from(info, "utf8"), Buffer.from([1])]))
    .digest();
}

export function stretch(master: Buffer): SymmetricKey {
  return { enc: hkdfExpand(master, "enc"), mac: hkdfExpand(master, "mac") };
}

export function randomSymmetricKey(): SymmetricKey {
  const bytes = crypto.randomBytes(64);
  return { enc: bytes.subarray(0, 32), mac: bytes.subarray(32) };
}

export function keyBytes(key: SymmetricKey): Buffer {
  return Buffer.concat([key.enc, key.mac]);
}

export function keyFromBytes(bytes: Buffer): SymmetricKey {
  return { enc: bytes.subarray(0, 32), mac: bytes.subarray(32, 64) };
}

/** EncString type 2: AES-256-CBC with an HMAC-SHA256 over iv || ciphertext. */
export function encrypt(plain: Buffer | string, key: SymmetricKey): string {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", key.enc, iv);
  const ct = Buffer.concat([cipher.update(typeof plain === "string" ? Buffer.from(plain, "utf8") : plain), cipher.final()]);
  const mac = crypto
    .createHmac("sha256", key.mac)
    .update(Buffer.concat([iv, ct]))
    .digest();
  return `2.${iv.toString("base64")}|${ct.toString("base64")}|${mac.toString("base64")}`;
}

export function decrypt(encString: string, key: SymmetricKey): Buffer {
  const match = /^2\.([^|]+)\|([^|]+)\|([^|]+)$/.exec(encString);
  if (!match) throw new Error("not a type 2 EncString");
  const [iv, ct, mac] = match.slice(1).map((p) => Buffer.from(p, "base64"));
  const expected = crypto
    .createHmac("sha256", key.mac)
    .update(Buffer.concat([iv, ct]))
    .digest();
  if (!crypto.timingSafeEqual(mac, expected)) throw new Error("EncString MAC mismatch");
  const decipher = crypto.createDecipheriv("aes-256-cbc", key.enc, iv);
  return Buffer.concat([decipher.update(ct), decipher.final()]);
}

export interface RsaKeyPair {
  publicKeyDer: Buffer;
  privateKeyDer: Buffer;
}

export function rsaKeyPair(): RsaKeyPair {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    publicKeyDer: publicKey.export({ type: "spki", format: "der" }),
    privateKeyDer: privateKey.export({ type: "pkcs8", format: "der" }),
  };
}

/** EncString type 4: RSA-OAEP with SHA-1 (and MGF1 SHA-1) under the member's public key. */
export function rsaEncrypt(plain: Buffer, publicKeyDer: Buffer): string {
  const key = crypto.createPublicKey({ key: publicKeyDer, format: "der", type: "spki" });
  const ct = crypto.publicEncrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, plain);
  return `4.${ct.toString("base64")}`;
}
