import { electronicFormatIBAN, isValidIBAN } from "ibantools";
import { type CountryCode, findPhoneNumbersInText } from "libphonenumber-js/max";
import { regexMatches, type Span } from "./spans.js";

/**
 * PII detectors. Each one validates what it finds, so look-alike numbers (SHAs, ports, durations,
 * timestamps, revisions, image tags) are not masked:
 *
 * - e-mail addresses, also URL-encoded (`jane%40example.com`); `git@host` clone addresses are not PII;
 * - phone numbers with libphonenumber-js (Google's libphonenumber metadata, "max" set): numbers in
 *   international form (`+44 20 7946 0958`, E.164 `+4915112345678`) anywhere; national forms only when
 *   written with separators (`(415) 555-0132`, `415.555.0132`) — for NANP anywhere, for GB, DE, FR,
 *   IN, AU only on a line that says phone/tel/mobile/…; a bare run of digits is never a phone number;
 * - payment cards: 13–19 digits (single spaces/dashes allowed) with a card-network prefix (ISO/IEC
 *   7812 IIN ranges and lengths of Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay), printed
 *   in one piece or in the networks' groupings (4-4-4-4, 4-6-5), passing Luhn;
 * - IBANs (ISO 13616, mod-97 checked by ibantools), printed or electronic form;
 * - US Social Security numbers written `AAA-GG-SSSS` in the ranges the SSA issues (no 000/666/9xx
 *   area, no 00 group, no 0000 serial), also bare or spaced under an `ssn` key; UK National Insurance numbers (HMRC's prefix rules);
 * - person names next to PII: on a line that has another PII finding, the value of a name field
 *   (`"name"`, `customer`, `full_name`, `cardholder`, …) that looks like a person's name (2–4
 *   capitalised words), and a display name before `<email>`.
 */

/** Luhn (mod 10) check over a string of digits (ISO/IEC 7812-1 Annex B). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}(?:@|%40)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;

function emailSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(EMAIL, text)) {
    let start = m.index;
    let s = m[0];
    // `mailto%3Ajane%40x.com`, `%3Cjane%40x.com%3E`: an encoded delimiter before the address is not part of it.
    const at = s.search(/@|%40/);
    const enc = regexMatches(/%(?:3[ACDEacde]|2[0278]|5[BDbd])/g, s.slice(0, at)).pop();
    if (enc) {
      start += enc.index + 3;
      s = s.slice(enc.index + 3);
    }
    const local = s.slice(0, s.search(/@|%40/));
    if (local === "git" || local === "") continue;
    // `scheme://user:password@host` is URL userinfo (the password detector's), not an address.
    const tokenStart = Math.max(text.lastIndexOf(" ", m.index), text.lastIndexOf('"', m.index - 1)) + 1;
    if (text[m.index - 1] === ":" && text.slice(tokenStart, m.index).includes("://")) continue;
    spans.push({ start, end: start + s.length, type: "Email" });
  }
  return spans;
}

const PHONE_WORDS =
  /\b(?:phone|tel|telephone|mobile|cell|fax|sms|whatsapp|contact|call|msisdn|caller|callee)\b/i;
/** NANP national layouts: `(415) 555-0132`, `415-555-0132`, `415.555.0132`, `415 555 0132`, `1-415-555-0132`. */
const NANP_FORMAT = /^(?:1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}([\s.-]))\d{3}[\s.-]\d{4}$/;
const OTHER_REGIONS: readonly CountryCode[] = ["GB", "DE", "FR", "IN", "AU"];

/**
 * Cheap candidates first (libphonenumber's own scan costs ~0.2 ms a line and much garbage): a `+`
 * number, a NANP layout, or (on a line with a phone word) a national number with its trunk 0.
 */
const PHONE_CANDIDATES: readonly { re: RegExp; regions: "intl" | "nanp" | "national" }[] = [
  { re: /\+\d[\d\s().-]{5,20}\d/g, regions: "intl" },
  { re: /(?:\b1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b/g, regions: "nanp" },
  { re: /(?:\(0\d{1,4}\)|(?<![\d:.])\b0\d{1,4})[ .-]?\d(?:[ .-]?\d){4,14}\b/g, regions: "national" },
];

function phoneSpans(text: string): Span[] {
  if (!/\d[\d\s().-]{5,}\d/.test(text)) return [];
  const spans: Span[] = [];
  const seen = new Set<number>();
  const keyword = PHONE_WORDS.test(text);
  for (const { re, regions } of PHONE_CANDIDATES) {
    if (regions === "national" && !keyword) continue;
    for (const c of regexMatches(re, text)) {
      const list: CountryCode[] = regions === "national" ? [...OTHER_REGIONS] : ["US"];
      for (const region of list) {
        for (const f of findPhoneNumbersInText(c[0], { defaultCountry: region })) {
          const startsAt = c.index + f.startsAt;
          const endsAt = c.index + f.endsAt;
          if (seen.has(startsAt)) continue;
          const raw = text.slice(startsAt, endsAt);
          const intl = raw.startsWith("+");
          if (!intl && !/\d[\s().-]+\d/.test(raw)) continue; // bare digits are not phone numbers
          if (!f.number.isValid()) continue;
          // Part of a larger token (`v1.415.555.0132`, `id=415-555-0132-9`) or a date/time.
          const prev = text[startsAt - 1] ?? " ";
          const next = text[endsAt] ?? " ";
          if (/[A-Za-z0-9_./-]/.test(prev) || (prev === ":" && !intl)) continue;
          if (/[A-Za-z0-9_/-]/.test(next) || (next === "." && /\d/.test(text[endsAt + 1] ?? ""))) continue;
          if (/^\d{4}[-.]\d{2}[-.]\d{2}/.test(raw) || /\d{2}:\d{2}/.test(raw)) continue;
          if (
            !intl &&
            region === "US" &&
            (!NANP_FORMAT.test(raw) || (f.number.country !== "US" && f.number.country !== "CA"))
          )
            continue;
          // Outside NANP a national number is written with its trunk prefix 0 (`020 7946 0958`).
          if (!intl && region !== "US" && !/^\(?0/.test(raw)) continue;
          seen.add(startsAt);
          spans.push({ start: startsAt, end: endsAt, type: "PhoneNumber" });
        }
      }
    }
  }
  return spans;
}

const CARD = /(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w])/g;
/** Network prefix (IIN) and the lengths that network issues (ISO/IEC 7812; the networks' published ranges). */
const CARD_NETWORKS: readonly [RegExp, readonly number[]][] = [
  [/^4/, [13, 16, 19]], // Visa
  [/^(?:5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, [16]], // Mastercard
  [/^3[47]/, [15]], // American Express
  [/^(?:6011|65|64[4-9])/, [16, 19]], // Discover
  [/^35(?:2[89]|[3-8]\d)/, [16, 19]], // JCB
  [/^3(?:0[0-5]|[68])/, [14, 16, 19]], // Diners Club
  [/^62/, [16, 19]], // UnionPay
];
/** Printed groupings: 4-4-4-4(-3), Amex 4-6-5, Diners 4-6-4. */
const CARD_GROUPS = new Set(["4,4,4,4", "4,4,4,4,3", "4,4,4,3", "4,6,5", "4,6,4", "4,4,4,1", "4,4,4,4,1"]);

function cardSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(CARD, text)) {
    if (/[ -]{2}/.test(m[0])) continue;
    const groups = m[0].split(/[ -]/);
    if (groups.length > 1 && !CARD_GROUPS.has(groups.map((g) => g.length).join(","))) continue;
    const digits = groups.join("");
    const network = CARD_NETWORKS.some(([re, lengths]) => re.test(digits) && lengths.includes(digits.length));
    if (network && luhnValid(digits)) {
      spans.push({ start: m.index, end: m.index + m[0].length, type: "CreditCardNumber" });
    }
  }
  return spans;
}

const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;

function ibanSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(IBAN, text)) {
    let s = m[0];
    // Trim trailing groups until the checksum holds (a word may follow the IBAN).
    while (s.length >= 15) {
      const e = electronicFormatIBAN(s) ?? "";
      if (isValidIBAN(e)) {
        spans.push({ start: m.index, end: m.index + s.length, type: "IBAN" });
        break;
      }
      const cut = s.lastIndexOf(" ");
      if (cut < 0) break;
      s = s.slice(0, cut);
    }
  }
  return spans;
}

const SSN = /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g;
const NINO = /\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g;

/** A bare or spaced SSN under an `ssn` / `social_security_number` key, in the SSA's issued ranges. */
const SSN_FIELD =
  /(?<![A-Za-z0-9_])(?:ssn|SSN|social_?security(?:_?number)?|socialSecurityNumber)\\?["']?[ \t]*[:=][ \t]*\\?["']?(?<v>(?!000|666|9\d\d)\d{3}[ -]?(?!00)\d{2}[ -]?(?!0000)\d{4})(?![\d-])/g;

function nationalIdSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(SSN_FIELD, text)) {
    const v = m.groups!.v!;
    const start = m.index + m[0].length - v.length;
    spans.push({ start, end: start + v.length, type: "USSocialSecurityNumber" });
  }
  for (const m of regexMatches(SSN, text))
    spans.push({ start: m.index, end: m.index + m[0].length, type: "USSocialSecurityNumber" });
  for (const m of regexMatches(NINO, text))
    spans.push({ start: m.index, end: m.index + m[0].length, type: "UKNationalInsuranceNumber" });
  return spans;
}

/** Key names that hold a person's name (JSON, logfmt, YAML). */
const NAME_KEYS =
  "name|full_?name|fullName|customer(?:_?name)?|customerName|cardholder(?:_?name)?|card_?holder|holder(?:_?name)?|account_?holder(?:_?name)?|accountHolder|recipient(?:_?name)?|billing_?name|shipping_?name|contact(?:_?name)?|patient(?:_?name)?|user_?name|display_?name|displayName|employee(?:_?name)?|beneficiary(?:_?name)?|owner_?name|ownerName";
const SINGLE_NAME_KEYS =
  "first_?name|firstName|given_?name|givenName|last_?name|lastName|family_?name|familyName|surname";
/** 2–4 capitalised words (any script), with particles such as `van der`, `de la`, `bin`. */
export const PERSON_NAME = String.raw`\p{Lu}[\p{L}'’-]+(?:[ \t](?:(?:van|von|der|den|de|da|del|della|di|du|la|le|bin|ibn|al|el|y)[ \t])*\p{Lu}[\p{L}'’.-]*){1,3}`;
const SINGLE_NAME = String.raw`\p{Lu}[\p{L}'’-]+`;
const fieldRe = (keys: string, value: string) =>
  new RegExp(
    String.raw`(?<![\p{L}0-9_])(?<key>${keys})(?<kq>\\?["'])?[ \t]*[:=][ \t]*(?<vq>\\?["'])?(?<v>${value})(?=\\?["',;}&\s]|$)`,
    "gu",
  );
const NAME_FIELD = fieldRe(NAME_KEYS, PERSON_NAME);
/** First or last name alone: one capitalised word under a first/last/given/family/surname key. */
const SINGLE_NAME_FIELD = fieldRe(SINGLE_NAME_KEYS, SINGLE_NAME);
const DISPLAY_NAME = new RegExp(String.raw`(?<![\p{L}])(?<v>${PERSON_NAME}) <[^<>\s]+@[^<>\s]+>`, "gu");

const NAME_KEY = new RegExp(`^(?:${NAME_KEYS}|${SINGLE_NAME_KEYS})$`);
const PERSON_NAME_VALUE = new RegExp(`^(?:${PERSON_NAME}|${SINGLE_NAME})$`, "u");

/** True when `key` names a person's name field (`customer`, `first_name`, …). */
export function isNameKey(key: string): boolean {
  return NAME_KEY.test(key);
}

/** True when `value` looks like a person's name: 1–4 capitalised words. */
export function looksLikePersonName(value: string): boolean {
  return PERSON_NAME_VALUE.test(value.trim());
}

/** Person names next to other PII in `text` (see the module doc). `pii` are the other PII spans. */
function nameSpans(text: string, pii: readonly Span[]): Span[] {
  if (pii.length === 0) return [];
  const spans: Span[] = [];
  for (const re of [NAME_FIELD, SINGLE_NAME_FIELD, DISPLAY_NAME]) {
    for (const m of regexMatches(re, text)) {
      const v = m.groups!.v!;
      const start = m.index + m[0].indexOf(v, m.groups!.key ? m.groups!.key.length : 0);
      spans.push({ start, end: start + v.length, type: "PersonName" });
    }
  }
  return spans;
}

/** All PII findings in `text`. */
export function piiSpans(text: string): Span[] {
  const spans = [...emailSpans(text), ...cardSpans(text), ...ibanSpans(text), ...nationalIdSpans(text)];
  const phones = phoneSpans(text).filter((p) => !spans.some((s) => p.start < s.end && s.start < p.end));
  spans.push(...phones);
  spans.push(...nameSpans(text, spans));
  return spans;
}
