/**
 * Receipts: a run's hash-chained events (RFC 8785 canonical JSON, SHA-256) signed with Ed25519, and their
 * verification. See DESIGN.md, "Contracts".
 */
export { canonicalJson, GENESIS_HASH, hashEvent, ReceiptRecorder, sha256Hex } from "./chain.js";
export { defaultKeyPath, keyIdOf, loadSigningKey, publicKeyPemOf, type SigningKey } from "./keys.js";
export {
  RECEIPT_FORMAT,
  type Receipt,
  serializeReceipt,
  signedStatement,
  signReceipt,
  writeReceiptFile,
} from "./sign.js";
export {
  ReceiptSchema,
  type VerifyOptions,
  type VerifyResult,
  verifyReceipt,
  verifyReceiptFile,
  verifyReceiptText,
} from "./verify.js";
