/**
 * A parser for Slack's `mrkdwn` text format, as documented in "Formatting text for app surfaces"
 * (docs.slack.dev/messaging/formatting-message-text): `*bold*`, `_italic_`, `~strike~`, `` `code` ``,
 * ```` ```preformatted``` ````, `<url|text>` and `<url>` links, `<@U123>` user mentions, `<#C123|name>`
 * channel links, `<!here>` special mentions, `&lt;`/`&gt;`/`&amp;` escapes and `>` quotes at line start.
 * Pure and DOM-free, so vitest can test it; `blocks.ts` turns the nodes into elements.
 */

/** One parsed piece of mrkdwn. `children` nest for emphasis and quotes. */
export type MrkdwnNode =
  | { t: "text"; v: string }
  | { t: "br" }
  | { t: "b" | "i" | "s" | "quote"; children: MrkdwnNode[] }
  | { t: "code" | "pre"; v: string }
  | { t: "link"; url: string; text: string }
  | { t: "user"; id: string }
  | { t: "channel"; id: string; name: string | null }
  | { t: "special"; v: string };

/** Decodes the three escapes Slack requires in text (`&amp;`, `&lt;`, `&gt;`). */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** The few emoji shortcodes Backstop's messages use; any other `:name:` stays as written. */
const EMOJI: Record<string, string> = {
  white_check_mark: "✅",
  heavy_check_mark: "✔️",
  x: "❌",
  warning: "⚠️",
  rotating_light: "🚨",
  hourglass: "⏳",
  hourglass_flowing_sand: "⏳",
  lock: "🔒",
  receipt: "🧾",
  no_entry: "⛔",
  arrows_counterclockwise: "🔄",
  ticket: "🎫",
  robot_face: "🤖",
  mag: "🔍",
  brain: "🧠",
  hammer_and_wrench: "🛠️",
  large_green_circle: "🟢",
  no_entry_sign: "🚫",
  raised_hand: "✋",
  scales: "⚖️",
  twisted_rightwards_arrows: "🔀",
  zzz: "💤",
};

/** Replaces known `:shortcode:` emoji with their characters. */
export function emojify(text: string): string {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => EMOJI[name] ?? whole);
}

const EMPHASIS: Record<string, "b" | "i" | "s"> = { "*": "b", _: "i", "~": "s" };
const WORD = /[\p{L}\p{N}]/u;

function isWord(ch: string | undefined): boolean {
  return ch !== undefined && WORD.test(ch);
}

function isSpace(ch: string | undefined): boolean {
  return ch === undefined || /\s/.test(ch);
}

/** A link body `<…>`: `@U…` user, `#C…|name` channel, `!here` special, else a URL with an optional label. */
function parseAngle(body: string): MrkdwnNode {
  const bar = body.indexOf("|");
  const target = bar === -1 ? body : body.slice(0, bar);
  const label = bar === -1 ? null : unescapeSlack(body.slice(bar + 1));
  if (target.startsWith("@")) return { t: "user", id: target.slice(1) };
  if (target.startsWith("#")) return { t: "channel", id: target.slice(1), name: label };
  if (target.startsWith("!")) {
    const name = target.slice(1).split("^")[0] ?? "";
    return { t: "special", v: label ?? `@${name}` };
  }
  const url = unescapeSlack(target);
  return { t: "link", url, text: label ?? url };
}

/** Finds the closing emphasis marker for `mark` opened at `start` on the same line, or -1. */
function closingMark(text: string, mark: string, start: number): number {
  for (let j = start + 2; j < text.length; j++) {
    const ch = text[j];
    if (ch === "\n") return -1;
    if (ch === mark && !isSpace(text[j - 1]) && !isWord(text[j + 1])) return j;
  }
  return -1;
}

function parseInline(text: string): MrkdwnNode[] {
  const out: MrkdwnNode[] = [];
  let buf = "";
  const flush = (): void => {
    if (buf.length > 0) out.push({ t: "text", v: emojify(unescapeSlack(buf)) });
    buf = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === "`") {
      if (text.startsWith("```", i)) {
        const end = text.indexOf("```", i + 3);
        if (end !== -1) {
          flush();
          out.push({ t: "pre", v: unescapeSlack(text.slice(i + 3, end).replace(/^\n/, "")) });
          i = end + 3;
          continue;
        }
      } else {
        const end = text.indexOf("`", i + 1);
        if (end > i + 1 && !text.slice(i + 1, end).includes("\n")) {
          flush();
          out.push({ t: "code", v: unescapeSlack(text.slice(i + 1, end)) });
          i = end + 1;
          continue;
        }
      }
    } else if (ch === "<") {
      const end = text.indexOf(">", i + 1);
      if (end > i + 1 && !text.slice(i + 1, end).includes("\n")) {
        flush();
        out.push(parseAngle(text.slice(i + 1, end)));
        i = end + 1;
        continue;
      }
    } else if (ch === "\n") {
      flush();
      out.push({ t: "br" });
      i += 1;
      continue;
    } else if (ch in EMPHASIS && !isWord(text[i - 1]) && !isSpace(text[i + 1]) && text[i + 1] !== ch) {
      const end = closingMark(text, ch, i);
      if (end !== -1) {
        flush();
        out.push({ t: EMPHASIS[ch] as "b" | "i" | "s", children: parseInline(text.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    }
    buf += ch;
    i += 1;
  }
  flush();
  return out;
}

/**
 * Parses mrkdwn into nodes. Lines starting with `>` (or `&gt;`, as Slack escapes it) become `quote` nodes;
 * the rest is parsed inline. Never throws; unknown syntax stays literal text.
 */
export function parseMrkdwn(text: string): MrkdwnNode[] {
  const lines = text.split("\n");
  const out: MrkdwnNode[] = [];
  let plain: string[] = [];
  const flushPlain = (): void => {
    if (plain.length === 0) return;
    const last = out[out.length - 1];
    if (last !== undefined && last.t !== "quote") out.push({ t: "br" });
    out.push(...parseInline(plain.join("\n")));
    plain = [];
  };
  for (const line of lines) {
    const quote = /^(>|&gt;) ?(.*)$/.exec(line);
    if (quote && !text.includes("```")) {
      flushPlain();
      out.push({ t: "quote", children: parseInline(quote[2] ?? "") });
    } else {
      plain.push(line);
    }
  }
  flushPlain();
  return out;
}
