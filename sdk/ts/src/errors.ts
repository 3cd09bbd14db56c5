import { ERROR_CODES, type ErrorCode, type Reason } from "./types.js";

/**
 * An error answer of the service (SPEC §5): the HTTP status, the error
 * code, the reason of a 422 verification_failed or a 403 of POST
 * /v1/verify, and the description, which is safe to show.
 *
 * code is "" when the body was not the service's error shape (a proxy's
 * HTML page, say): description then holds a short excerpt of it. status
 * is 0 for an error event inside an event stream (the stream itself was a
 * 200).
 */
export class EidwalletError extends Error {
  override readonly name = "EidwalletError";
  readonly status: number;
  readonly code: ErrorCode | "";
  readonly description: string;
  readonly reason: Reason | undefined;
  /** Seconds to wait, from Retry-After (429, 503); undefined without it. */
  readonly retryAfter: number | undefined;
  /** X-Request-Id of the answer: quote it when reporting a problem. */
  readonly requestId: string | undefined;

  constructor(init: {
    status: number;
    code: ErrorCode | "";
    description: string;
    reason?: Reason | undefined;
    retryAfter?: number | undefined;
    requestId?: string | undefined;
  }) {
    let msg = `${init.status} ${init.code || "error"}`;
    if (init.reason) msg += ` (${init.reason})`;
    if (init.description) msg += `: ${init.description}`;
    super(msg);
    this.status = init.status;
    this.code = init.code;
    this.description = init.description;
    this.reason = init.reason;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }
}

/** The largest part of an error body that is read. */
const maxErrorBytes = 64 << 10;

/**
 * Reads at most max bytes of resp's body and cancels the rest: over says
 * there was more. A proxy's page, or a body that never ends, costs no
 * more than max.
 */
export async function readUpTo(resp: Response, max: number): Promise<{ bytes: Uint8Array; over: boolean }> {
  const reader = resp.body?.getReader();
  if (!reader) return { bytes: new Uint8Array(0), over: false };
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > max) {
      chunks.push(value.subarray(0, max - n));
      n = max;
      await reader.cancel().catch(() => undefined);
      return { bytes: concat(chunks, n), over: true };
    }
    chunks.push(value);
    n += value.length;
  }
  return { bytes: concat(chunks, n), over: false };
}

function concat(chunks: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reads a non-2xx answer into an EidwalletError. */
export async function errorFromResponse(resp: Response, now: Date = new Date()): Promise<EidwalletError> {
  let text = "";
  try {
    text = new TextDecoder().decode((await readUpTo(resp, maxErrorBytes)).bytes);
  } catch {
    // a body that cannot be read leaves the status to speak
  }
  return errorFromBody(resp.status, text, {
    retryAfter: resp.headers.get("Retry-After"),
    requestId: resp.headers.get("X-Request-Id"),
    now,
  });
}

/**
 * Builds the error of an answer with status and body text. A body in the
 * SPEC §5 shape gives code, description and reason; any other keeps a
 * short printable excerpt as the description and an empty code.
 */
export function errorFromBody(
  status: number,
  text: string,
  opts: { retryAfter?: string | null; requestId?: string | null; now?: Date } = {},
): EidwalletError {
  const retryAfter = opts.retryAfter ? parseRetryAfter(opts.retryAfter, opts.now ?? new Date()) : undefined;
  const requestId = opts.requestId || undefined;
  const body = parseErrorBody(text);
  if (body) {
    return new EidwalletError({
      status,
      code: body.code,
      description: body.description,
      reason: body.reason,
      retryAfter,
      requestId,
    });
  }
  return new EidwalletError({ status, code: "", description: excerpt(text, 200), retryAfter, requestId });
}

/** The members of a SPEC §5 error body, or undefined when text is not one. */
export function parseErrorBody(text: string): { code: ErrorCode; description: string; reason?: Reason } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.error !== "string" || o.error === "") return undefined;
  // A code this kit does not know yet is kept as it is: the service may
  // add codes, and the status still says what kind of failure it is.
  const code = o.error as ErrorCode;
  const out: { code: ErrorCode; description: string; reason?: Reason } = {
    code,
    description: typeof o.error_description === "string" ? o.error_description : "",
  };
  if (typeof o.reason === "string" && o.reason !== "") out.reason = o.reason;
  return out;
}

/** Whether code is one of SPEC §5's. */
export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** Reads Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in seconds. */
export function parseRetryAfter(v: string, now: Date): number | undefined {
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.round((t - now.getTime()) / 1000));
}

/** The start of s as one printable line. */
function excerpt(s: string, n: number): string {
  const line = s
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
  return line.length > n ? line.slice(0, n) + "…" : line;
}
