/**
 * The one-command demo in a real browser: `startDemo` (the whole product on loopback: two sandbox
 * worlds, the sandbox Slack, Redis, the Bolt app, the BullMQ worker and the console) driven by
 * playwright-core in Debian's chromium. It runs hallucinated-diagnosis (Backstop resolves while the naive
 * side shows damage), then cascading-failure and clicks Approve in the thread. Screenshots go to
 * test-results/; the README shows copies from docs/. Skipped with a message where chromium is missing.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Demo, startDemo } from "../../sandbox/demo.js";
import { loadScenario } from "../../scenarios/schema.js";
import { setLogLevel } from "../../src/log.js";
import { resolveInPackage } from "../../src/paths.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { hasChromium, launchChromium } from "./chromium.js";

const SHOTS = resolveInPackage("test-results");

describe.skipIf(!hasChromium)("npm run demo, in chromium", () => {
  let demo: Demo;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    setLogLevel(process.env.LOG_LEVEL ?? "warn");
    const staticDir = mkdtempSync(join(tmpdir(), "backstop-demo-build-"));
    await build({
      configFile: resolveInPackage("sandbox", "console", "vite.config.ts"),
      logLevel: "silent",
      build: { outDir: staticDir, emptyOutDir: true, sourcemap: false },
    });
    demo = await startDemo({
      scenariosDir: resolveInPackage("scenarios"),
      signingKey: loadSigningKey({
        path: join(mkdtempSync(join(tmpdir(), "backstop-demo-key-")), "k.pem"),
        create: true,
      }),
      staticDir,
    });
    context = await launchChromium({ width: 1600, height: 1100 });
    page = context.pages()[0] ?? (await context.newPage());
    mkdirSync(SHOTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await demo?.close();
  });

  it("hallucinated-diagnosis: Backstop resolves while the naive agent damages the cluster", async () => {
    await page.goto(demo.consoleUrl);
    await page.getByTestId("scenario-hallucinated-diagnosis").click();
    await expect
      .poll(() => page.getByTestId("outcome-backstop").textContent(), { timeout: 45_000 })
      .toBe("resolved");
    await expect
      .poll(() => page.getByTestId("outcome-naive").textContent(), { timeout: 45_000 })
      .toBe("damaged");
    expect(await page.getByTestId("blast-backstop").textContent()).toBe("1 workloads changed, 0 protected");
    expect(await page.getByTestId("blast-naive").textContent()).toMatch(/^[3-9] workloads changed/);
    await expect
      .poll(() => page.getByTestId("verified-backstop").textContent(), { timeout: 15_000 })
      .toBe("verified");
    // The thread rendered from the recorded Block Kit: the quality gate caught the wrong diagnosis.
    await page
      .getByText(/re-routing to tier 2/i)
      .first()
      .waitFor();
    await page.screenshot({ path: join(SHOTS, "demo-hallucinated-diagnosis.png"), fullPage: true });
  }, 120_000);

  it("cascading-failure: the breaker escalates and an approver's click in the thread acts", async () => {
    await page.getByTestId("scenario-cascading-failure").click();
    // The backend knows first; the page follows (the last scenario's outcome may linger a moment).
    // Wait for THIS scenario's run to reach an outcome: until the click's fire resets the backend,
    // agent("backstop") is still the previous scenario's finished run.
    await expect
      .poll(
        () => {
          const a = demo.backend.agent("backstop");
          return a?.scenario === "cascading-failure" ? a.outcome : "previous scenario";
        },
        { timeout: 45_000 },
      )
      .toMatch(/awaiting_approval|escalated|resolved|failed|damaged/);
    const escalated = demo.backend.agent("backstop");
    expect(
      escalated?.outcome,
      escalated?.events.map((e) => `${e.type} ${JSON.stringify(e.data).slice(0, 300)}`).join("\n"),
    ).toBe("awaiting_approval");
    await expect
      .poll(() => page.getByTestId("outcome-backstop").textContent(), { timeout: 15_000 })
      .toBe("awaiting_approval");
    await expect
      .poll(() => page.getByTestId("outcome-naive").textContent(), { timeout: 45_000 })
      .toBe("damaged");
    expect(await page.getByTestId("blast-naive").textContent()).toMatch(/1 protected$/);
    const approve = page.locator('[data-testid^="button-backstop_approve-"]').first();
    await approve.waitFor();
    await page.screenshot({ path: join(SHOTS, "demo-cascading-escalated.png"), fullPage: true });
    await page.getByTestId("user-picker").selectOption("U0ONCALL");
    await approve.click();
    const ok = page.getByTestId("confirm-ok");
    if (await ok.count()) await ok.click();
    await expect
      .poll(() => page.getByTestId("outcome-backstop").textContent(), { timeout: 45_000 })
      .toBe("resolved");
    expect(await page.getByTestId("blast-backstop").textContent()).toBe("1 workloads changed, 0 protected");
    await expect
      .poll(() => page.getByTestId("verified-backstop").textContent(), { timeout: 15_000 })
      .toBe("verified");
    await page.screenshot({ path: join(SHOTS, "demo-cascading-approved.png"), fullPage: true });
  }, 120_000);

  it("every other scenario button runs both agents to the scenario's expected outcome", async () => {
    for (const name of ["clean-signal", "tool-failure", "model-failover"]) {
      const scenario = loadScenario(resolveInPackage("scenarios", `${name}.yaml`));
      await page.getByTestId(`scenario-${name}`).click();
      await expect
        .poll(() => demo.backend.agent("naive")?.scenario === name && demo.backend.agent("naive")?.outcome, {
          timeout: 45_000,
        })
        .toBe(scenario.expect.naive.outcome);
      // An escalation that proposes an action waits for a human in the bot (the CLI reports it as escalated).
      const want =
        scenario.expect.backstop.outcome === "escalated"
          ? "awaiting_approval"
          : scenario.expect.backstop.outcome;
      // The backend first (this scenario's run, not the last one's lingering outcome), then the page.
      await expect
        .poll(
          () => demo.backend.agent("backstop")?.scenario === name && demo.backend.agent("backstop")?.outcome,
          { timeout: 45_000 },
        )
        .toBe(want);
      await expect
        .poll(() => page.getByTestId("outcome-backstop").textContent(), { timeout: 45_000 })
        .toBe(want);
      expect(await page.getByTestId("blast-backstop").textContent()).toMatch(/, 0 protected$/);
    }
  }, 180_000);
});
