import { KeyObject, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/**
 * The sandbox API server's TLS material, generated at start: a CA and a server certificate it signs for
 * `127.0.0.1`, `::1` and `localhost` (plus the listen host when it is another name or address), all in PEM.
 * The CA goes into the kubeconfig as `certificate-authority-data`, as a real cluster's does
 * (https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/).
 */
export interface SandboxTls {
  /** The CA certificate (PEM); clients trust this. */
  caPem: string;
  /** The server certificate (PEM), signed by the CA. */
  certPem: string;
  /** The server's private key (PKCS#8 PEM); never leaves the process. */
  keyPem: string;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Generates a fresh CA (ECDSA P-256, CA:true, pathLen 0, keyCertSign) and a server certificate
 * (serverAuth, SANs for loopback and `host`), valid from one hour ago for `days` days (default 30).
 * Keys are made with node:crypto's WebCrypto; certificates are built with `@peculiar/x509`.
 */
export async function generateSandboxTls(host = "127.0.0.1", days = 30): Promise<SandboxTls> {
  const crypto = webcrypto as unknown as Crypto;
  x509.cryptoProvider.set(crypto);
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + days * 86400_000);
  const caKeys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=backstop-sandbox-ca,O=backstop",
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const names: { type: "ip" | "dns"; value: string }[] = [
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
    { type: "dns", value: "localhost" },
  ];
  if (!names.some((n) => n.value === host)) {
    names.push({ type: IPV4.test(host) || host.includes(":") ? "ip" : "dns", value: host });
  }
  const serverKeys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject: "CN=backstop-sandbox-apiserver,O=backstop",
    issuer: ca.subject,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(serverKeys.privateKey as unknown as webcrypto.CryptoKey)
    .export({ type: "pkcs8", format: "pem" })
    .toString();
  return { caPem: ca.toString("pem"), certPem: cert.toString("pem"), keyPem };
}
