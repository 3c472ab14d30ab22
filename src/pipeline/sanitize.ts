import type { Signals } from "../contracts/signals.js";
import { redactDeep, redactorVersion, redactSignals, redactText } from "../guardrails/redact.js";
import { NOTE_MAX_CHARS, stripInvisible, stripInvisibleDeep } from "../guardrails/untrusted.js";
import type { RunContext } from "./context.js";

/** Counts per type (or kind) and their sum. */
export interface Tally {
  counts: Record<string, number>;
  total: number;
}

function addInto(t: Tally, counts: Record<string, number | undefined> | undefined): void {
  for (const [k, n] of Object.entries(counts ?? {})) {
    if (!n) continue;
    t.counts[k] = (t.counts[k] ?? 0) + n;
    t.total += n;
  }
}

const empty = (): Tally => ({ counts: {}, total: 0 });

/**
 * The input side of the guardrail for one run, in the order that holds: strip invisible (Unicode Cf)
 * characters, then redact, then bound. Collects counts for the `redaction.applied` (direction `input`)
 * event; mcp-infra's own counts (`signals.sanitized`) are added, since it redacted before bounding.
 */
export class InputSanitizer {
  readonly redactions: Tally = empty();
  readonly invisible: Tally = empty();

  /** A `/backstop triage` note: stripped, redacted, then cut to {@link NOTE_MAX_CHARS}. */
  async note(note: string | null | undefined): Promise<string | null> {
    if (!note) return null;
    const visible = stripInvisible(note);
    addInto(this.invisible, visible.counts);
    const r = await redactText(visible.value);
    addInto(this.redactions, r.counts);
    return r.value.length > NOTE_MAX_CHARS ? `${r.value.slice(0, NOTE_MAX_CHARS)}…` : r.value;
  }

  /** Any JSON-like value (an Alertmanager notification: labels, annotations, URLs): stripped, redacted. */
  async deep<T>(value: T): Promise<T> {
    const visible = stripInvisibleDeep(value);
    addInto(this.invisible, visible.counts);
    const r = await redactDeep(visible.value);
    addInto(this.redactions, r.counts);
    return r.value;
  }

  /**
   * `get_signals` output: the server's counts are taken over and its `sanitized` field dropped (it is
   * bookkeeping, not evidence); every string is stripped of invisible characters; then every string
   * is redacted again unless the server says it ran this very redactor (`sanitized.redactor` equal to
   * {@link redactorVersion}: the same detectors over the same text find nothing more, so the pass
   * would only cost CPU). An older server, another build, or no claim: redacted here.
   * @throws BackstopError `redact.invalid` when the signals do not match the schema.
   */
  async signals(raw: Signals): Promise<Signals> {
    const { sanitized, ...rest } = raw;
    addInto(this.redactions, sanitized?.redactions);
    addInto(this.invisible, sanitized?.invisible);
    const visible = stripInvisibleDeep(rest);
    addInto(this.invisible, visible.counts);
    if (sanitized?.redactor === redactorVersion()) return visible.value;
    const r = await redactSignals(visible.value);
    addInto(this.redactions, r.counts);
    return r.value;
  }

  /** The `redaction.applied` data of the input side. */
  event(): {
    counts: Record<string, number>;
    total: number;
    direction: "input";
    invisible: Tally;
  } {
    return {
      counts: { ...this.redactions.counts },
      total: this.redactions.total,
      direction: "input",
      invisible: { counts: { ...this.invisible.counts }, total: this.invisible.total },
    };
  }
}

/**
 * The output side: every model reply (and every text derived from one: the parsed diagnosis, the
 * judge's reason, a router error, an escalation reason, the ticket) passes the same redactor before it
 * is recorded anywhere. Counts pile up until {@link OutputRedactor.flush} puts them on the receipt as
 * `redaction.applied` with direction `output`.
 */
export class OutputRedactor {
  private pending: Tally = empty();

  /** Redacts one string (null stays null). */
  async text<T extends string | null>(text: T): Promise<T> {
    if (text === null) return text;
    const r = await redactText(stripInvisible(text).value);
    addInto(this.pending, r.counts);
    return r.value as T;
  }

  /** Redacts every string of a JSON-like value (a parsed diagnosis, a judge verdict). */
  async deep<T>(value: T): Promise<T> {
    const r = await redactDeep(stripInvisibleDeep(value).value);
    addInto(this.pending, r.counts);
    return r.value;
  }

  /** Emits `redaction.applied` (direction `output`, `stage`) when anything was masked since the last flush. */
  async flush(ctx: RunContext, stage: string): Promise<void> {
    if (this.pending.total === 0) return;
    const t = this.pending;
    this.pending = empty();
    await ctx.emit("redaction.applied", { counts: t.counts, total: t.total, direction: "output", stage });
  }
}
