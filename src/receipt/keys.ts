import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { BackstopError, errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { packageRoot } from "../paths.js";

const log = childLogger("receipt");

/**
 * An Ed25519 signing key (RFC 8032) for receipts. `publicKeyPem` is the SPKI PEM (RFC 8410) that goes on
 * each receipt; `keyId` is the first 16 hex characters of the SHA-256 of the SPKI DER.
 */
export interface SigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

/** Where a development key lives by default: `~/.config/backstop/receipt-ed25519.pem`, outside any repo. */
export function defaultKeyPath(): string {
  return resolve(homedir(), ".config", "backstop", "receipt-ed25519.pem");
}

/** `sha256(SPKI DER)` as hex, first 16 characters: the id printed next to a signature. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}

/** The SPKI PEM Node writes for a public key; receipts carry exactly this text. */
export function publicKeyPemOf(publicKey: KeyObject): string {
  return publicKey.export({ type: "spki", format: "pem" }).toString();
}

function fromPrivateKey(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new BackstopError(
      "receipt.key",
      `receipt key must be Ed25519, got ${privateKey.asymmetricKeyType ?? privateKey.type}`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKeyPem: publicKeyPemOf(publicKey), keyId: keyIdOf(publicKey) };
}

function parsePem(pem: string, where: string): SigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    // The PEM text itself never goes into the message.
    throw new BackstopError("receipt.key", `invalid receipt key (${where}): ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return fromPrivateKey(key);
}

function insideWorkTree(path: string): boolean {
  const rel = relative(packageRoot, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Loads the receipt signing key: from `pem` (PKCS#8 PEM text) if given, else from the file at `path`
 * (default {@link defaultKeyPath}). With `create: true` and no file there, a new Ed25519 key is generated
 * and written with mode 0600 (folder 0700), never inside the Backstop work tree; later calls reuse it.
 * A key file readable by group or others is used, with a warning.
 * @throws BackstopError `receipt.key` when the key is missing (and `create` is not set), unreadable,
 *   not PEM, not Ed25519, or when asked to create it inside the work tree.
 */
export function loadSigningKey(opts: { pem?: string; path?: string; create?: boolean } = {}): SigningKey {
  if (opts.pem !== undefined && opts.pem.trim() !== "") return parsePem(opts.pem, "PEM text");
  const path = resolve(opts.path ?? defaultKeyPath());
  if (existsSync(path)) {
    let pem: string;
    try {
      pem = readFileSync(path, "utf8");
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        log.warn(
          { path, mode: mode.toString(8) },
          "receipt key file is readable by group or others; chmod 600 it",
        );
      }
    } catch (err) {
      throw new BackstopError("receipt.key", `cannot read receipt key at ${path}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return parsePem(pem, path);
  }
  if (opts.create !== true) throw new BackstopError("receipt.key", `no receipt key at ${path}`);
  if (insideWorkTree(path)) {
    throw new BackstopError("receipt.key", `refusing to create a receipt key inside the work tree: ${path}`);
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, pem, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadSigningKey({ path }); // created concurrently
    throw new BackstopError("receipt.key", `cannot write receipt key at ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const key = fromPrivateKey(privateKey);
  log.info({ path, key_id: key.keyId }, "created a development receipt signing key");
  return key;
}
