/** The Alertmanager request the demo prints and fires: the HTTP request and the same as a `curl` command line. */

/** A ready HTTP request that fires an Alertmanager notification at the demo's bot, and the same as `curl`. */
export interface DemoAlertRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** A shell command line (POSIX quoting) that sends exactly this request with curl. */
  curl: string;
}

/** Quotes `s` for a POSIX shell: inside single quotes, each `'` becomes `'\''`. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * The request Alertmanager's webhook receiver would send (`POST`, `Authorization: Bearer <token>`,
 * JSON body of version 4), and the same as a curl command line.
 */
export function alertRequest(url: string, token: string, webhook: unknown): DemoAlertRequest {
  const body = JSON.stringify(webhook);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const curl = [
    "curl -sS -X POST",
    shellQuote(url),
    ...Object.entries(headers).map(([k, v]) => `-H ${shellQuote(`${k}: ${v}`)}`),
    `--data-binary ${shellQuote(body)}`,
  ].join(" ");
  return { url, headers, body, curl };
}
