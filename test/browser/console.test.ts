/**
 * The /run console in a real browser: playwright-core driving Debian's chromium (`apt-get install -y
 * chromium`) against the console server over a fake backend. Builds the page with vite into a temp folder
 * first, so it tests the current source. Skipped, with a message, where /usr/bin/chromium is missing.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConsole, startConsole } from "../../sandbox/console/server.js";
import { resolveInPackage } from "../../src/paths.js";
import { APPROVER, ESCALATION_TS, FakeConsoleBackend, ROOT_TS } from "../console/fake-backend.js";
import { hasChromium, launchChromium } from "./chromium.js";

const SHOTS = resolveInPackage("test-results");

describe.skipIf(!hasChromium)("console in chromium", () => {
  let backend: FakeConsoleBackend;
  let app: RunningConsole;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const outDir = mkdtempSync(join(tmpdir(), "backstop-console-build-"));
    await build({
      configFile: resolveInPackage("sandbox", "console", "vite.config.ts"),
      logLevel: "silent",
      build: { outDir, emptyOutDir: true, sourcemap: false },
    });
    backend = new FakeConsoleBackend();
    app = await startConsole({ backend, staticDir: outDir });
    context = await launchChromium({ width: 1600, height: 1000 });
    page = context.pages()[0] ?? (await context.newPage());
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await app?.close();
  });

  it("renders the scenario bar and fires a scenario into a Block Kit thread", async () => {
    await page.goto(app.url);
    const scenario = page.getByTestId("scenario-hallucinated-diagnosis");
    await scenario.waitFor();
    expect(await scenario.textContent()).toBe("Hallucinated diagnosis");
    expect(await scenario.getAttribute("title")).toContain("never existed");
    expect(await page.getByTestId("scenario-cascading-failure").count()).toBe(1);
    expect(await page.getByTestId("outcome-naive").count()).toBe(0);

    await scenario.click();
    const root = page.getByTestId(`message-${ROOT_TS}`);
    await root.waitFor();
    expect(backend.fired).toEqual(["hallucinated-diagnosis"]);
    expect(await root.locator(".block-header").textContent()).toBe("🚨 CheckoutHighErrorRate");
    expect(await root.locator(".fields .field").count()).toBe(4);
    expect(await root.locator(".fields .field strong").first().textContent()).toBe("Status");
    expect(await root.locator(".block-section code").first().textContent()).toBe("shop/checkout");
    expect(await root.locator(".block-section em").first().textContent()).toBe("hallucinated-diagnosis");
    expect(await root.locator('a[href="https://runbooks.example/checkout"]').textContent()).toBe(
      "checkout runbook",
    );
    expect(await root.locator(".block-context .mention").textContent()).toBe("@Ada (on-call)");
    expect(await root.locator(".edited").count()).toBe(1);

    const escalation = page.getByTestId(`message-${ESCALATION_TS}`);
    expect(await escalation.locator(".block-actions button").count()).toBe(2);
    const approve = page.getByTestId("button-approve-run-backstop-1");
    expect(await approve.getAttribute("class")).toContain("btn-primary");
    expect(await page.getByTestId("button-reject-run-backstop-1").getAttribute("class")).toContain(
      "btn-danger",
    );
    expect(await escalation.locator('a[href="/api/files/F0RECEIPT"]').textContent()).toBe("Receipt");
  });

  it("shows both agents' outcome, blast radius, timeline, cluster and receipt badge", async () => {
    await expect.poll(() => page.getByTestId("outcome-naive").textContent()).toBe("damaged");
    expect(await page.getByTestId("outcome-backstop").textContent()).toBe("resolved");
    expect(await page.getByTestId("blast-naive").textContent()).toBe("3 workloads changed, 1 protected");
    expect(await page.getByTestId("blast-backstop").textContent()).toBe("1 workloads changed, 0 protected");
    await expect.poll(() => page.getByTestId("verified-backstop").textContent()).toBe("verified");
    expect(await page.getByTestId("verified-naive").textContent()).toMatch(/^NOT verified: .+/);
    expect(await page.getByTestId("receipt-backstop").getAttribute("href")).toBe(
      "/api/receipts/run-backstop-1",
    );
    expect(await page.getByTestId("timeline-backstop").locator("li").count()).toBe(4);
    // Which cluster each run touched, and the cluster each panel shows.
    expect(await page.getByTestId("cluster-backstop").textContent()).toBe("cluster sandbox");
    expect(await page.locator(".agent-backstop .cluster-name").textContent()).toBe("cluster sandbox");
    expect(await page.locator(".agent-naive .health-failing").textContent()).toBe("failing");
    await page.screenshot({ path: join(SHOTS, "console-hallucinated-diagnosis.png"), fullPage: true });
  });

  it("asks for confirmation before Approve, sends nothing on deny, and posts the click on confirm", async () => {
    const approve = page.getByTestId("button-approve-run-backstop-1");
    await approve.click();
    const modal = page.getByTestId("confirm-modal");
    await modal.waitFor();
    expect(await modal.locator("h2").textContent()).toBe("Approve rollback?");
    expect(await page.getByTestId("confirm-text").textContent()).toBe("Roll back shop/checkout to a1b2c3d.");
    expect(await page.getByTestId("confirm-text").locator("strong").textContent()).toBe("shop/checkout");
    expect(await page.getByTestId("confirm-ok").textContent()).toBe("Roll back");
    await page.screenshot({ path: join(SHOTS, "console-confirm.png") });
    await page.getByTestId("confirm-deny").click();
    await modal.waitFor({ state: "detached" });
    expect(backend.clicks).toEqual([]);

    await approve.click();
    await page.getByTestId("confirm-ok").click();
    await expect.poll(() => backend.clicks.length).toBe(1);
    expect(backend.clicks[0]).toEqual({
      channel: "C0INCIDENTS",
      message_ts: ESCALATION_TS,
      thread_ts: ROOT_TS,
      action_id: "approve",
      value: "run-backstop-1",
      user_id: APPROVER,
    });
    // The bot's reply arrives over SSE and lands in the thread.
    await page.getByText("approve by @Ada (on-call)").waitFor();
    expect(await page.getByTestId("notice").textContent()).toContain("the bot answered 200");
  });

  it("sends a button without confirm at once, as the user picked", async () => {
    await page.getByTestId("user-picker").selectOption("U0BYSTANDER");
    await page.getByTestId("button-reject-run-backstop-1").click();
    await expect.poll(() => backend.clicks.length).toBe(2);
    expect(backend.clicks[1]).toMatchObject({ action_id: "reject", user_id: "U0BYSTANDER" });
    await page.getByText("reject by @Bob (watching)").waitFor();
    await page.screenshot({ path: join(SHOTS, "console-approved.png"), fullPage: true });
  });
});
