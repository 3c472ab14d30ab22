import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";
import type { SecretLintCoreConfig, SecretLintCoreConfigRule } from "@secretlint/types";
import { BackstopError, errorMessage } from "../../errors.js";
import type { Span } from "./spans.js";

/**
 * secretlint (`@secretlint/core` `lintSource`) with every rule of
 * `@secretlint/secretlint-rule-preset-recommend` 12.0.0 (the last release that declares Node >= 20):
 * AWS (with `enableIDScanRule`), GCP service-account keys, PEM private keys, npm, basic-auth URLs, Slack,
 * SendGrid, Shopify, GitHub, GitLab, Grafana, OpenAI, Anthropic, Groq, Hugging Face, Linear, Notion,
 * 1Password, database connection strings, HashiCorp Vault, Vercel, Databricks, Docker, Figma. Stripe,
 * Cloudflare and Tailscale (added to the preset in 13, which needs Node 22) come from `providers.ts`.
 * The preset's
 * `filter-comments` rule is left out on purpose: with it, a log line containing `secretlint-disable`
 * would switch detection off.
 */

/** secretlint `messageId` → our type name (the name in masks and counts). Unknown ids are used as is. */
export const SECRET_TYPE_BY_MESSAGE_ID: Readonly<Record<string, string>> = {
  AWSAccessKeyID: "AWSAccessKeyID",
  AWSSecretAccessKey: "AWSSecretAccessKey",
  AWSAccountID: "AWSAccountID",
  PrivateKey: "PrivateKey",
  PrivateKeyJSON: "GCPServiceAccountKey",
  PrivateKeyP12: "GCPServiceAccountKey",
  SLACK_TOKEN: "SlackToken",
  IncomingWebhook: "SlackIncomingWebhook",
  GITHUB_TOKEN: "GitHubToken",
  PackageJSON_xOauthToken: "GitHubToken",
  BasicAuth: "BasicAuth",
  MongoDBConnection: "DatabaseConnectionString",
  MySQLConnection: "DatabaseConnectionString",
  PostgreSQLConnection: "DatabaseConnectionString",
  OPENAI_TOKEN: "OpenAIAPIKey",
  ANTHROPIC_API_KEY: "AnthropicAPIKey",
  LINEAR_API_TOKEN: "LinearAPIKey",
  SENDGRID_KEY: "SendGridAPIKey",
  SHOPIFY_KEY: "ShopifyToken",
  OPS_TOKEN: "OnePasswordToken",
  NPM_ACCESS_TOKEN: "NpmToken",
  Npmrc_authToken: "NpmToken",
  STRIPE_SECRET_KEY_LIVE: "StripeKey",
  STRIPE_SECRET_KEY_TEST: "StripeKey",
  STRIPE_RESTRICTED_KEY_LIVE: "StripeKey",
  STRIPE_RESTRICTED_KEY_TEST: "StripeKey",
  HASHICORP_VAULT_SERVICE_TOKEN: "VaultToken",
  HASHICORP_VAULT_BATCH_TOKEN: "VaultToken",
  HASHICORP_VAULT_RECOVERY_TOKEN: "VaultToken",
  GITLAB_PERSONAL_ACCESS_TOKEN: "GitLabToken",
  GRAFANA_CLOUD_API_TOKEN: "GrafanaToken",
  GRAFANA_SERVICE_ACCOUNT_TOKEN: "GrafanaToken",
  GROQ_API_KEY: "GroqAPIKey",
  HUGGINGFACE_USER_ACCESS_TOKEN: "HuggingFaceToken",
  NOTION_INTEGRATION_TOKEN: "NotionToken",
  DATABRICKS_PERSONAL_ACCESS_TOKEN: "DatabricksToken",
  DOCKER_PERSONAL_ACCESS_TOKEN: "DockerToken",
  FIGMA_PERSONAL_ACCESS_TOKEN: "FigmaToken",
  CLOUDFLARE_ACCOUNT_API_TOKEN: "CloudflareToken",
  CLOUDFLARE_GLOBAL_API_KEY: "CloudflareToken",
  CLOUDFLARE_USER_API_TOKEN: "CloudflareToken",
};

/**
 * A cheap prefilter: the prefixes and keywords that the preset's rules anchor on (read from the
 * preset's own patterns). Text without any of them cannot produce a secretlint finding, so the
 * scan (about 0.1 ms and a few hundred kB of garbage per call) is skipped.
 */
export const SECRETLINT_PREFILTER =
  /AKIA|A3T|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|secret_?access_?key|account_?id|PRIVATE KEY|private_key|xox[a-z]-|xapp-|hooks\.slack|gh[pousr]_|github_pat|x-oauth-basic|:\/\/[^\s/@]*:[^\s@]*@|sk[-_]|rk_|SG\.|shp[a-z]{2}_|dapi|dckr_pat|figd_|gl(?:c|sa|pat)[-_]|gsk_|hf_|hv[bsr]\.|lin_api|npm_|_authToken|ntn_|ops_ey|tskey-|cf(?:k|ut|at)_|vc[pikar]_/i;

// secretlint's profiler is on by default and keeps every performance mark of every call (and the
// global performance timeline's): in a long-running process that is a memory leak, and the growing
// heap made each GC pause ~15 ms. We never read the profile. secretlint 12.0.0 (the last release that
// declares Node >= 20) has no `setEnabled`, so the shared instance's `mark` becomes a no-op: no mark is
// ever recorded, so its observer never fires and nothing accumulates.
secretLintProfiler.mark = () => {};

const FILTER_COMMENTS_RULE = "@secretlint/secretlint-rule-filter-comments";
const AWS_RULE = "@secretlint/secretlint-rule-aws";

const SECRETLINT_CONFIG: SecretLintCoreConfig = {
  rules: recommendedRules
    .filter((rule) => rule.meta.id !== FILTER_COMMENTS_RULE)
    .map(
      (rule) =>
        ({
          id: rule.meta.id,
          rule,
          options: rule.meta.id === AWS_RULE ? { enableIDScanRule: true } : {},
        }) as unknown as SecretLintCoreConfigRule,
    ),
};

/** A secretlint range that starts at a label (`aws_secret_access_key = "AbC…`) → the value only. */
const LABELLED = /^[A-Za-z_][\w.-]*["']?\s*(?::=|=>|=|:(?!\/\/))\s*["']?/;
const VALUE_CHARS = /[A-Za-z0-9/+=_.~-]/;

const USERINFO_PASSWORD = /\/\/[^\s:/@]*:(?<pw>[^\s@/]+)@/;

function valueOnly(source: string, start: number, end: number): [number, number] {
  const label = LABELLED.exec(source.slice(start, end));
  if (!label || label[0].length >= end - start) return [start, end];
  let e = end;
  while (e < source.length && VALUE_CHARS.test(source[e]!)) e++;
  return [start + label[0].length, e];
}

/**
 * Secret findings in `source` as `[start, end)` UTF-16 offsets, from one secretlint run.
 * @throws BackstopError `redact.secretlint` if secretlint itself fails (its message never carries the input).
 */
export async function secretlintSpans(source: string): Promise<Span[]> {
  if (source.trim() === "" || !SECRETLINT_PREFILTER.test(source)) return [];
  let result: Awaited<ReturnType<typeof lintSource>>;
  try {
    result = await lintSource({
      source: { content: source, filePath: "backstop-input.txt", ext: ".txt", contentType: "text" },
      options: { config: SECRETLINT_CONFIG, maskSecrets: true, noPhysicFilePath: true },
    });
  } catch (err) {
    throw new BackstopError("redact.secretlint", `secret scan failed: ${errorMessage(err)}`, { cause: err });
  }
  return result.messages.map((m) => {
    let [start, end] = valueOnly(source, m.range[0], m.range[1]);
    // A connection string or basic-auth URL: only its password is the secret; host and database stay.
    const userinfo = USERINFO_PASSWORD.exec(source.slice(start, end));
    if (userinfo?.groups?.pw) {
      start += userinfo.index + userinfo[0].length - userinfo.groups.pw.length - 1;
      end = start + userinfo.groups.pw.length;
    }
    return {
      start,
      end,
      type: SECRET_TYPE_BY_MESSAGE_ID[m.messageId] ?? m.messageId.replace(/[^A-Za-z0-9]/g, ""),
    };
  });
}
