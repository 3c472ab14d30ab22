import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Whether the browser tests can run: true when `path` exists. When it is missing they skip with a
 * warning on a developer's machine, but under CI (`env.CI === "true"`, as GitHub Actions and `.ci/run`
 * set it) a missing browser is an error, so a CI run can never pass by skipping them.
 * @throws Error naming the path under CI when it is missing.
 */
export function chromiumAvailable(path: string = CHROMIUM, env: NodeJS.ProcessEnv = process.env): boolean {
  if (existsSync(path)) return true;
  if (env.CI === "true")
    throw new Error(`test/browser: ${path} is missing under CI (apt-get install -y chromium)`);
  console.warn(`test/browser: skipped — ${path} is missing (apt-get install -y chromium)`);
  return false;
}

/** Evaluated once per test file; throws under CI when chromium is missing (see {@link chromiumAvailable}). */
export const hasChromium = chromiumAvailable();

/**
 * Launches headless chromium through playwright-core with a fresh profile and the flags this machine
 * needs (no sandbox as root, no background networking on a closed network).
 */
export function launchChromium(viewport: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "backstop-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
