import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { BackstopError } from "../../src/errors.js";
import { slackSettingsFromConfig } from "../../src/slack/config.js";

/** The settings this issue adds: per-target headers and the guardrail route's token and bound. */

const slackEnv = {
  SLACK_BOT_TOKEN: "xoxb-1",
  SLACK_SIGNING_SECRET: "secret",
  SLACK_BOT_USER_ID: "U1",
  SLACK_BOT_ID: "B1",
  SLACK_ALERT_CHANNEL: "C1",
  BACKSTOP_ALERT_TOKEN: "alert-token-0123456789",
  BACKSTOP_APPROVERS: "U2",
};

describe("gateway settings", () => {
  it("reads a target's extra headers, e.g. a Portkey config", () => {
    const config = loadConfig({
      BACKSTOP_MODEL_MODE: "virtual",
      BACKSTOP_TARGETS: JSON.stringify([
        {
          name: "portkey",
          base_url: "http://portkey:8787/v1",
          model: "backstop-diagnose",
          headers: { "x-portkey-config": "pc-backstop-1234" },
        },
      ]),
    });
    expect(config.models.targets[0]?.headers).toEqual({ "x-portkey-config": "pc-backstop-1234" });
  });

  it("refuses headers that are not strings, naming the field", () => {
    const bad = () =>
      loadConfig({
        BACKSTOP_TARGETS: JSON.stringify([
          {
            name: "p",
            base_url: "http://p:1/v1",
            model: "m",
            headers: { "x-portkey-config": { strategy: {} } },
          },
        ]),
      });
    expect(bad).toThrow(BackstopError);
    expect(bad).toThrow(/BACKSTOP_TARGETS\[0\.headers\.x-portkey-config\]/);
  });

  it("serves the guardrail only with a long enough token, with the body bound", () => {
    const off = slackSettingsFromConfig(loadConfig(slackEnv));
    expect(off.guardrailToken).toBeUndefined();
    const on = slackSettingsFromConfig(
      loadConfig({
        ...slackEnv,
        BACKSTOP_GUARDRAIL_TOKEN: "guardrail-token-0123456789",
        BACKSTOP_GUARDRAIL_MAX_BYTES: "65536",
      }),
    );
    expect(on).toMatchObject({ guardrailToken: "guardrail-token-0123456789", guardrailMaxBytes: 65536 });
    expect(() => loadConfig({ ...slackEnv, BACKSTOP_GUARDRAIL_TOKEN: "short" })).toThrow(
      /BACKSTOP_GUARDRAIL_TOKEN: use a long random token/,
    );
    expect(() => loadConfig({ ...slackEnv, BACKSTOP_GUARDRAIL_MAX_BYTES: "12" })).toThrow(
      /BACKSTOP_GUARDRAIL_MAX_BYTES/,
    );
  });
});
