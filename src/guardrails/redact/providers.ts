import { regexMatches, type Span } from "./spans.js";

/**
 * Provider token formats that secretlint's recommended preset does not cover, written after the rules
 * of gitleaks' default configuration (`config/gitleaks.toml`, github.com/gitleaks/gitleaks, MIT, as of
 * commit b58d3f1 of 2026-07-22; the rule id is named on each entry). No maintained npm package carries those rules for JavaScript, and
 * Go's RE2 syntax (`(?i:…)` groups) does not run in Node 20, so the formats are restated here as
 * JavaScript regular expressions. Only rules anchored on a fixed, distinctive prefix are taken; the
 * keyword-based gitleaks rules (`generic-api-key`, `datadog-access-token`, …) are the job of the
 * keyword-assignment detector (`keyword.ts`). Where a pattern has a capture group `v`, only that group
 * is masked.
 */
export interface ProviderPattern {
  /** The gitleaks rule id the format comes from. */
  gitleaks: string;
  /** The type named in the mask. */
  type: string;
  /** Global regex; a named group `v`, when present, is the part to mask. */
  re: RegExp;
}

/** Right boundary used by gitleaks: a quote, backtick, whitespace, `;`, an escaped newline, or the end. */
const END = String.raw`(?=[\x60'"\s;,)}\]<>&]|\\[nr]|$)`;

const p = (gitleaks: string, type: string, source: string, flags = ""): ProviderPattern => ({
  gitleaks,
  type,
  re: new RegExp(source, `g${flags}`),
});

/** The provider patterns, most specific first. */
export const PROVIDER_PATTERNS: readonly ProviderPattern[] = [
  p("gcp-api-key", "GCPAPIKey", String.raw`\bAIza[\w-]{35}${END}`),
  p(
    "azure-ad-client-secret",
    "AzureClientSecret",
    String.raw`(?<![\w~.-])[a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34}${END}`,
  ),
  p(
    "stripe-access-token",
    "StripeKey",
    String.raw`\b(?:sk|rk|whsec)_(?:test_|live_|prod_)?[a-zA-Z0-9]{16,99}${END}`,
  ),
  p("pypi-upload-token", "PyPIToken", String.raw`pypi-AgEIcHlwaS5vcmc[\w-]{50,1000}`),
  p(
    "vault-service-token",
    "VaultToken",
    String.raw`\b(?:hvs\.[\w-]{24,300}|hv[br]\.[\w-]{24,300}|s\.[a-zA-Z0-9]{24})${END}`,
  ),
  p("twilio-api-key", "TwilioAPIKey", String.raw`\bSK[0-9a-fA-F]{32}\b`),
  p("twilio-account-sid (format)", "TwilioAccountSID", String.raw`\bAC[0-9a-f]{32}\b`),
  p("sendgrid-api-token", "SendGridAPIKey", String.raw`\bSG\.[\w-]{22}\.[\w-]{43}(?![\w-])`),
  p(
    "slack-webhook-url",
    "SlackWebhook",
    String.raw`hooks\.slack\.com/(?:services|workflows|triggers)/(?<v>[A-Za-z0-9+/]{20,80}(?:/[A-Za-z0-9+/]+)*)`,
  ),
  p("slack-app-token", "SlackToken", String.raw`xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+`, "i"),
  p("slack-bot-token", "SlackToken", String.raw`\bxoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*`),
  p("slack-legacy-bot-token", "SlackToken", String.raw`\bxoxb-[0-9]{8,14}-[a-zA-Z0-9]{18,26}`),
  p("slack-user-token", "SlackToken", String.raw`\bxox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}`),
  p("slack-legacy-token", "SlackToken", String.raw`\bxox[os]-\d+-\d+-\d+-[a-fA-F\d]+`),
  p("slack-legacy-workspace-token", "SlackToken", String.raw`\bxox[ar]-(?:\d-)?[0-9a-zA-Z]{8,48}`),
  p(
    "github-pat / github-app-token / github-oauth",
    "GitHubToken",
    String.raw`\bgh[pousr]_[0-9a-zA-Z]{36,255}\b`,
  ),
  p("github-fine-grained-pat", "GitHubToken", String.raw`\bgithub_pat_\w{22,255}`),
  p(
    "gitlab-pat",
    "GitLabToken",
    String.raw`\bgl(?:pat|dt|ft|rt|soat|cbt|ffct|oas|agent|imt|ptt)-[\w-]{20,300}(?:\.[0-9a-z]{9})?`,
  ),
  p(
    "openai-api-key",
    "OpenAIAPIKey",
    String.raw`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200}`,
  ),
  p("anthropic-api-key", "AnthropicAPIKey", String.raw`\bsk-ant-(?:api|admin)\d\d-[\w-]{80,120}`),
  p("npm-access-token", "NpmToken", String.raw`\bnpm_[a-zA-Z0-9]{36}\b`),
  p("digitalocean-pat", "DigitalOceanToken", String.raw`\bdo[opr]_v1_[a-f0-9]{64}\b`),
  p("databricks-api-token", "DatabricksToken", String.raw`\bdapi[a-f0-9]{32}(?:-\d)?\b`),
  p("huggingface-access-token", "HuggingFaceToken", String.raw`\b(?:hf_|api_org_)[a-zA-Z]{34}\b`),
  p(
    "grafana-service-account-token",
    "GrafanaToken",
    String.raw`\b(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,3}|eyJrIjoi[A-Za-z0-9]{70,400}={0,3})`,
  ),
  p("sentry-user-token", "SentryToken", String.raw`\bsntry[us]_[A-Za-z0-9+/=_]{40,400}`),
  p("shopify-access-token", "ShopifyToken", String.raw`\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b`),
  p("postman-api-token", "PostmanToken", String.raw`\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b`),
  p("doppler-api-token", "DopplerToken", String.raw`\bdp\.(?:pt|st|sa|ct|scim|audit)\.[a-zA-Z0-9]{40,44}\b`),
  p("dynatrace-api-token", "DynatraceToken", String.raw`\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}\b`),
  p("age-secret-key", "AgeSecretKey", String.raw`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`),
  p("alibaba-access-key-id", "AlibabaAccessKey", String.raw`\bLTAI[a-zA-Z0-9]{20}\b`),
  p("aws-access-token", "AWSAccessKeyID", String.raw`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`),
  p("gcp oauth client secret (GOCSPX- format)", "OAuthClientSecret", String.raw`\bGOCSPX-[\w-]{28}\b`),
  p("linear-api-key", "LinearAPIKey", String.raw`\blin_api_[a-zA-Z0-9]{40}\b`),
  p("pulumi-api-token", "PulumiToken", String.raw`\bpul-[a-f0-9]{40}\b`),
  p("rubygems-api-token", "RubyGemsToken", String.raw`\brubygems_[a-f0-9]{48}\b`),
  p("square-access-token", "SquareToken", String.raw`\b(?:EAAA|sq0atp-|sq0csp-)[\w-]{22,60}\b`),
  p("mailgun-private-api-token", "MailgunKey", String.raw`\bkey-[a-f0-9]{32}\b`),
  p(
    "atlassian / jira api token (ATATT format)",
    "AtlassianToken",
    String.raw`\bATATT3[A-Za-z0-9_\-=]{100,300}`,
  ),
  p("openshift-user-token", "OpenShiftToken", String.raw`\bsha256~[\w-]{43}\b`),
  // Azure storage account keys (64 bytes, 88 base64 characters) look exactly like a sha512 digest,
  // so they are found by their key (`AccountKey=`, `AZURE_STORAGE_KEY`) in keyword.ts, or as entropy.
  p(
    "azure storage connection string (AccountKey= / SharedAccessKey= format)",
    "AzureStorageKey",
    String.raw`(?:AccountKey|SharedAccessKey)=(?<v>[A-Za-z0-9+/]{20,}={0,2})`,
  ),
  p(
    "private-key (PGP armour)",
    "PrivateKey",
    String.raw`-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]*?(?:-----END PGP PRIVATE KEY BLOCK-----|$)`,
  ),
  p(
    "private-key",
    "PrivateKey",
    String.raw`-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY-----[\s\S]*?(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY-----|$)`,
  ),
  // secretlint 13's Cloudflare and Tailscale rules, restated from its preset (13 needs Node 22; see
  // secretlint.ts): `cfk_`/`cfut_`/`cfat_` + 40 alphanumerics + an 8-hex checksum, and
  // `tskey-{type}-{identifier}-{secret}`.
  p(
    "cloudflare (secretlint CLOUDFLARE_TOKEN_PATTERN)",
    "CloudflareToken",
    String.raw`(?<!\p{L})cf(?:k|ut|at)_[A-Za-z0-9]{40}[0-9a-f]{8}(?![A-Za-z0-9])`,
    "u",
  ),
  p(
    "tailscale (secretlint)",
    "TailscaleKey",
    String.raw`(?<!\p{L})tskey-[a-z]{2,20}-[0-9A-Za-z_]{8,40}-[0-9A-Za-z_]{16,60}(?![0-9A-Za-z_])`,
    "u",
  ),
];

/** Findings of {@link PROVIDER_PATTERNS} in `text`. */
export function providerSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const { type, re } of PROVIDER_PATTERNS) {
    for (const m of regexMatches(re, text)) {
      const v = m.groups?.v;
      const start = v === undefined ? m.index : m.index + m[0].lastIndexOf(v);
      spans.push({ start, end: start + (v ?? m[0]).length, type });
    }
  }
  return spans;
}
