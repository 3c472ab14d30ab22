import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BackstopError, errorMessage, formatZodIssues } from "../errors.js";
import { BOUNDARY_RE, fenceData, newBoundary } from "../guardrails/untrusted.js";
import { childLogger } from "../log.js";
import { resolveInPackage } from "../paths.js";

const log = childLogger("prompts");

/**
 * A prompt ready to use. `sha256` is the hex SHA-256 of the template text (the body below the front
 * matter, UTF-8), so the same template gives the same hash whether it came from the registry or the
 * local file; it goes on the receipt with `name` and `version` (`model.call.prompt`).
 * `system` is the system message; `user` the user message template with `{{placeholders}}`.
 * `source` says where it came from; `registry_error` why the registry was not used (null otherwise, and
 * null when no registry was configured).
 */
export interface LoadedPrompt {
  name: string;
  version: string;
  sha256: string;
  source: "registry" | "local";
  system: string;
  user: string;
  registry_error: string | null;
}

/** Options of {@link loadPrompt}. `timeoutMs` bounds the registry request (default 2000 ms). */
export interface LoadPromptOptions {
  /** Base URL of the prompt registry; when absent the local file is used. */
  registryUrl?: string;
  /** Extra request headers, e.g. `{ authorization: "Bearer …" }`. */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Folder of the local prompt files; default the package's `prompts/`. */
  dir?: string;
}

/** The front matter every prompt file starts with (YAML between `---` lines). */
export const PromptFrontMatterSchema = z.object({
  name: z.string().min(1),
  version: z.string().regex(/^\d+\.\d+\.\d+([-+].*)?$/, "expected a semantic version such as 1.0.0"),
  description: z.string().min(1),
});

/**
 * What the prompt registry answers to `GET {registryUrl}/{name}` (name URL-encoded): a JSON object
 * `{ name, version, template }` where `template` is the same text as a local prompt file's body (a
 * `## System` section and a `## User` section). A TrueFoundry prompt is fetched the same way: the
 * registry URL is a small adapter in front of it and `name` is the prompt's FQN
 * (`tenant:prompt-registry/repo/name`), URL-encoded into the path.
 */
export const RegistryPromptSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  template: z.string().min(1),
});

/** Hex SHA-256 of a template's UTF-8 text. */
export function templateSha256(template: string): string {
  return createHash("sha256").update(template, "utf8").digest("hex");
}

/**
 * Splits a template into its `## System` and `## User` sections (level-2 headings, case-insensitive,
 * on their own line; the text of each is trimmed).
 * @throws BackstopError `prompt.invalid` when either section is missing or empty.
 */
export function splitTemplate(template: string, source: string): { system: string; user: string } {
  const sys = /^##[ \t]+system[ \t]*$/im.exec(template);
  const usr = /^##[ \t]+user[ \t]*$/im.exec(template);
  if (!sys || !usr || usr.index < sys.index) {
    throw new BackstopError(
      "prompt.invalid",
      `${source}: expected a "## System" section then a "## User" section`,
    );
  }
  const system = template.slice(sys.index + sys[0].length, usr.index).trim();
  const user = template.slice(usr.index + usr[0].length).trim();
  if (!system || !user) throw new BackstopError("prompt.invalid", `${source}: empty System or User section`);
  return { system, user };
}

/**
 * Parses a prompt file's text: YAML front matter (`name`, `version`, `description`) between `---`
 * lines, then the template.
 * @throws BackstopError `prompt.invalid` naming the bad front-matter fields or the missing sections.
 */
export function parsePromptFile(
  text: string,
  source: string,
): Omit<LoadedPrompt, "source" | "registry_error"> {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n([\s\S]*)$/.exec(text);
  if (!m) throw new BackstopError("prompt.invalid", `${source}: missing YAML front matter between --- lines`);
  let raw: unknown;
  try {
    raw = parseYaml(m[1] ?? "");
  } catch (err) {
    throw new BackstopError("prompt.invalid", `${source}: front matter is not YAML: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const fm = PromptFrontMatterSchema.safeParse(raw);
  if (!fm.success) {
    const fields = formatZodIssues(fm.error);
    throw new BackstopError("prompt.invalid", `${source}: invalid front matter: ${fields}`);
  }
  const template = m[2] ?? "";
  return {
    name: fm.data.name,
    version: fm.data.version,
    sha256: templateSha256(template),
    ...splitTemplate(template, source),
  };
}

/**
 * Loads `<dir>/<name>.md` synchronously.
 * @throws BackstopError `prompt.read` when the file cannot be read; `prompt.invalid` when it is malformed
 *   or its front-matter `name` differs from `name`.
 */
export function loadLocalPrompt(name: string, dir = resolveInPackage("prompts")): LoadedPrompt {
  const file = join(dir, `${name}.md`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new BackstopError("prompt.read", `cannot read prompt ${file}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const parsed = parsePromptFile(text, file);
  if (parsed.name !== name) {
    throw new BackstopError(
      "prompt.invalid",
      `${file}: front matter names "${parsed.name}", expected "${name}"`,
    );
  }
  return { ...parsed, source: "local", registry_error: null };
}

/** Fetches one prompt from the registry (see {@link RegistryPromptSchema}). Throws on any failure. */
async function fetchFromRegistry(
  name: string,
  opts: LoadPromptOptions & { registryUrl: string },
): Promise<LoadedPrompt> {
  const url = `${opts.registryUrl.replace(/\/+$/, "")}/${encodeURIComponent(name)}`;
  const res = await fetch(url, {
    headers: { accept: "application/json", ...opts.headers },
    signal: AbortSignal.timeout(opts.timeoutMs ?? 2000),
  });
  if (!res.ok) throw new BackstopError("prompt.registry", `GET ${url}: HTTP ${res.status}`);
  const body = RegistryPromptSchema.safeParse(await res.json());
  if (!body.success)
    throw new BackstopError("prompt.registry", `GET ${url}: not a {name, version, template} object`);
  if (body.data.name !== name) {
    throw new BackstopError("prompt.registry", `GET ${url}: registry answered prompt "${body.data.name}"`);
  }
  const { system, user } = splitTemplate(body.data.template, url);
  return {
    name,
    version: body.data.version,
    sha256: templateSha256(body.data.template),
    source: "registry",
    system,
    user,
    registry_error: null,
  };
}

/**
 * Loads a prompt by name (`diagnosis`, `judge`): from the registry when `registryUrl` is set, falling
 * back to the local file on ANY registry error (network, timeout, HTTP status, bad JSON, bad template);
 * the result then has `source: "local"` and `registry_error` set, and a warning is logged.
 * @throws BackstopError `prompt.read` / `prompt.invalid` only when the local file itself fails.
 */
export async function loadPrompt(name: string, opts: LoadPromptOptions = {}): Promise<LoadedPrompt> {
  if (opts.registryUrl) {
    try {
      return await fetchFromRegistry(name, { ...opts, registryUrl: opts.registryUrl });
    } catch (err) {
      const reason = errorMessage(err);
      log.warn({ prompt: name, err: reason }, "prompt registry failed; using the local prompt file");
      return { ...loadLocalPrompt(name, opts.dir), registry_error: reason };
    }
  }
  return loadLocalPrompt(name, opts.dir);
}

/** Values for {@link render}: the data placeholders. Strings go in as they are; anything else as JSON. */
export type PromptVars = Partial<Record<"alert" | "signals" | "diagnosis", unknown>>;

/** The placeholders a template may use: the data ones of {@link PromptVars} and `boundary`. */
const DATA_KEYS = ["alert", "signals", "diagnosis"] as const;

/**
 * Fills a prompt's placeholders in both messages, in one pass (a value that itself contains `{{…}}` is
 * not expanded again):
 *
 * - `{{boundary}}`: a fresh random token (`newBoundary()`: 128 bits from `crypto.randomBytes`, 32 hex
 *   digits) for this render, so the prompts can name tags like `<signals-{{boundary}}>` that data cannot
 *   forge: the token is unknown before the render.
 * - `{{alert}}`, `{{signals}}`, `{{diagnosis}}`: untrusted data. Non-strings are `JSON.stringify`-ed with
 *   a 2-space indent. Every value then goes through `fenceData`: Unicode Cf characters are removed,
 *   every occurrence of the boundary token is removed, and every `</` is written `<\/` (in JSON an
 *   equivalent escape), so no closing tag (`</signals>`, `</signals-…>`) can be formed from inside.
 *
 * Returns the two messages and the boundary used (`boundary` is `opts.boundary` when given, for tests).
 * @throws BackstopError `prompt.render` when the template uses a placeholder that `vars` does not give,
 *   or an unknown placeholder; `untrusted.invalid` when `opts.boundary` is not 32 lowercase hex digits.
 */
export function render(
  prompt: LoadedPrompt,
  vars: PromptVars,
  opts: { boundary?: string } = {},
): { system: string; user: string; boundary: string } {
  const boundary = opts.boundary ?? newBoundary();
  if (!BOUNDARY_RE.test(boundary)) fenceData("", boundary);
  const fill = (text: string): string =>
    text.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_all, key: string) => {
      if (key === "boundary") return boundary;
      if (!(DATA_KEYS as readonly string[]).includes(key)) {
        throw new BackstopError("prompt.render", `prompt ${prompt.name}: unknown placeholder {{${key}}}`);
      }
      const v = vars[key as (typeof DATA_KEYS)[number]];
      if (v === undefined) {
        throw new BackstopError("prompt.render", `prompt ${prompt.name}: no value for {{${key}}}`);
      }
      return fenceData(typeof v === "string" ? v : JSON.stringify(v, null, 2), boundary);
    });
  return { system: fill(prompt.system), user: fill(prompt.user), boundary };
}
