import { EidwalletError, errorFromResponse, readUpTo } from "./errors.js";
import { readEvents, type StreamState, DEFAULT_MAX_EVENT } from "./sse.js";
import {
  isFinalStatus,
  type CreateRequestRequest,
  type CreateRequestResponse,
  type OfflineUploadResult,
  type OfflineVerifications,
  type RequestResult,
  type RequestStatus,
  type VerificationsResponse,
  type VerifyResponse,
} from "./types.js";

/** What every call takes: a signal to cancel it (a timeout: AbortSignal.timeout(ms)). */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface VerifierClientOptions {
  /** The service's URL: scheme and host, and a path prefix if it is mounted under one. */
  baseUrl: string;
  /** The verifier API key the operator gave you. */
  apiKey: string;
  /** The fetch to use (a proxy agent, a test double); the global fetch by default. */
  fetch?: typeof fetch;
  /** Sent as User-Agent (Node); leave it unset in a browser, where a preflight would have to allow it. */
  userAgent?: string;
  /** The cap on one server-sent event, in characters (1 MiB by default). */
  maxEventBytes?: number;
}

/** The longest long-poll the service takes, in seconds (SPEC §3.4). */
export const MAX_WAIT_SECONDS = 60;

/** The pause before an event stream is opened again, unless it said otherwise (retry:). */
const reconnectMs = 2000;
const maxReconnectMs = 60_000;

/**
 * A relying party's view of the eidwallet API, authenticated by a verifier
 * API key. Every failed call throws an EidwalletError with the answer's
 * status, error code and reason; a network failure throws what fetch
 * threw.
 *
 *   const v = new VerifierClient({ baseUrl: "https://wallet.example", apiKey });
 *   const res = await v.verify("EID1:…");
 */
export class VerifierClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string | undefined;
  readonly #maxEvent: number;

  constructor(opts: VerifierClientOptions) {
    if (!opts.baseUrl) throw new TypeError("VerifierClient: baseUrl is required");
    if (!opts.apiKey) throw new TypeError("VerifierClient: apiKey is required");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.#apiKey = opts.apiKey;
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.#userAgent = opts.userAgent;
    this.#maxEvent = opts.maxEventBytes ?? DEFAULT_MAX_EVENT;
  }

  /**
   * Redeems a scanned QR text (EID1:…, or an offline EIDC1:… code):
   * POST /v1/verify. The answer holds only the claims the citizen chose.
   * A share is redeemed at most its max_uses times (once by default): do
   * not retry a call that may have reached the service without looking at
   * the verification log first, or the retry is 409 share_already_redeemed.
   *
   * Throws EidwalletError: 400 invalid_request, 401 unauthenticated,
   * 403 forbidden (reason audience_mismatch or claims_not_registered; the
   * share is not spent), 404 not_found, 409 share_already_redeemed,
   * 410 share_expired / share_cancelled, 422 verification_failed with its
   * reason, 429 rate_limited (retryAfter), 503 status_unavailable /
   * storage_unavailable.
   */
  async verify(qr: string, opts: CallOptions = {}): Promise<VerifyResponse> {
    return this.#json<VerifyResponse>("POST", "/v1/verify", { qr }, opts);
  }

  /**
   * A page of the verifier's own log, newest first (GET /v1/verifier/verifications);
   * limit 1 to 1000, the service's default 100; cursor: the next_cursor of the page before.
   */
  async verifications(opts: CallOptions & { limit?: number; cursor?: string } = {}): Promise<VerificationsResponse> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set("limit", String(opts.limit));
    if (opts.cursor !== undefined) q.set("cursor", opts.cursor);
    return this.#json<VerificationsResponse>("GET", "/v1/verifier/verifications", undefined, opts, q);
  }

  /**
   * Asks a citizen for claims (POST /v1/verifier/requests): without
   * presence the answer's qr_text (EIDR1:…) is for you to show (requestQR
   * renders it); with the EIDP1: text of a presence code your staff
   * scanned, the request goes to that citizen's app. Throws 403 forbidden
   * for a claim the verifier is not registered for, 404 for an unknown or
   * expired presence code, 429 past the per-key limit.
   */
  async createRequest(req: CreateRequestRequest, opts: CallOptions = {}): Promise<CreateRequestResponse> {
    return this.#json<CreateRequestResponse>("POST", "/v1/verifier/requests", req, opts);
  }

  /**
   * The state of one of your requests (GET /v1/verifier/requests/{id}),
   * with the documents once approved. With wait (seconds, 0 to 60) it
   * long-polls: without since until the request is approved, declined or
   * expired; with since until its status is another; or until wait passes,
   * then it answers the state as it is. Another verifier's request is 404.
   */
  async getRequest(id: string, opts: CallOptions & { wait?: number; since?: RequestStatus } = {}): Promise<RequestResult> {
    const q = new URLSearchParams();
    if (opts.wait !== undefined) q.set("wait", String(Math.min(Math.max(Math.ceil(opts.wait), 0), MAX_WAIT_SECONDS)));
    if (opts.since !== undefined) q.set("since", opts.since);
    return this.#json<RequestResult>("GET", `/v1/verifier/requests/${encodeURIComponent(id)}`, undefined, opts, q);
  }

  /**
   * Long-polls until the request is approved, declined or expired, and
   * returns that state. A 429 or 503 on the way is waited out (its
   * Retry-After) and asked again. Cancel it with signal; a request expires
   * by itself (its ttl_seconds, at most 600 s), so the loop ends.
   */
  async waitForRequest(id: string, opts: CallOptions = {}): Promise<RequestResult> {
    for (;;) {
      let res: RequestResult;
      try {
        res = await this.getRequest(id, { ...opts, wait: MAX_WAIT_SECONDS });
      } catch (err) {
        // Too many calls, or the service unavailable a while: the loop is
        // the kit's, so it waits and asks again; anything else ends it.
        const pause = transient(err);
        if (pause === undefined) throw err;
        await sleep(pause, opts.signal);
        continue;
      }
      if (isFinalStatus(res.status)) return res;
    }
  }

  /**
   * Follows one of your requests by server-sent events
   * (GET /v1/verifier/requests/{id}/events): yields its state at once and
   * at each change of status, and ends after a final one. A stream the
   * server ends (after about four minutes) is opened again, and a status
   * already yielded is not repeated; a 429 or 503 when opening it again is
   * waited out (its Retry-After). An error answer when first opening (401,
   * 404, …), any other one later, or an error event throws EidwalletError
   * (status 0 for the event); stopping the loop (break) closes the stream.
   */
  async *requestEvents(id: string, opts: CallOptions = {}): AsyncGenerator<RequestResult> {
    const path = `/v1/verifier/requests/${encodeURIComponent(id)}/events`;
    let last: RequestStatus | undefined;
    for (let opened = false; ; opened = true) {
      let resp: Response;
      try {
        resp = await this.#send("GET", path, undefined, opts, undefined, "text/event-stream");
      } catch (err) {
        // Opening it again, the kit waits out a 429 or 503 and tries again;
        // the first opening's answer is the caller's.
        const pause = opened ? transient(err) : undefined;
        if (pause === undefined) throw err;
        await sleep(pause, opts.signal);
        continue;
      }
      const type = mediaType(resp);
      if (type !== "text/event-stream" || !resp.body) {
        await resp.body?.cancel();
        throw new Error(`GET ${path}: the answer is ${JSON.stringify(type)}, not an event stream`);
      }
      const state: StreamState = {};
      try {
        for await (const ev of readEvents(resp.body, state, this.#maxEvent)) {
          if (ev.event === "error") throw streamError(ev.data);
          if (ev.event !== "status") continue;
          const res = JSON.parse(ev.data) as RequestResult;
          if (res.status === last) continue;
          last = res.status;
          yield res;
          if (isFinalStatus(res.status)) return;
        }
      } catch (err) {
        // A connection that broke is opened again; anything else ends it.
        if (err instanceof EidwalletError || opts.signal?.aborted || !isNetworkError(err)) throw err;
      }
      await sleep(Math.min(state.retry ?? reconnectMs, maxReconnectMs), opts.signal);
    }
  }

  /**
   * The EIDR1: code of a request waiting to be scanned, as PNG or SVG of
   * about size pixels (64 to 1024; the service's default 256). 409 once it
   * was scanned, 410 once expired, 404 for a presence request (no code).
   */
  async requestQR(id: string, format: "png" | "svg", opts: CallOptions & { size?: number } = {}): Promise<Uint8Array> {
    const q = new URLSearchParams();
    if (opts.size !== undefined) q.set("size", String(opts.size));
    const accept = format === "png" ? "image/png" : "image/svg+xml";
    const resp = await this.#send("GET", `/v1/verifier/requests/${encodeURIComponent(id)}/qr.${format}`, undefined, opts, q, accept);
    return this.#body(resp, accept);
  }

  /**
   * Sends what a counter verified with no network
   * (POST /v1/verifier/offline-verifications, 1 to 500 at a time): the
   * answer names the codes already used at another verifier.
   */
  async uploadOfflineVerifications(req: OfflineVerifications, opts: CallOptions = {}): Promise<OfflineUploadResult> {
    return this.#json<OfflineUploadResult>("POST", "/v1/verifier/offline-verifications", req, opts);
  }

  async #json<T>(method: string, path: string, body: unknown, opts: CallOptions, query?: URLSearchParams): Promise<T> {
    const resp = await this.#send(method, path, body, opts, query, "application/json");
    const bytes = await this.#body(resp, "application/json");
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch {
      throw notTheService(resp, "its JSON does not parse");
    }
  }

  /**
   * The body of a 2xx answer of media type want, at most maxAnswerBytes;
   * anything else is no answer of the service's (a proxy's page, say) and
   * is thrown as an EidwalletError of that status and an empty code.
   */
  async #body(resp: Response, want: string): Promise<Uint8Array> {
    const type = mediaType(resp);
    if (type !== want) {
      await resp.body?.cancel().catch(() => undefined);
      throw notTheService(resp, `it is ${type || "of no media type"}, not ${want}`);
    }
    const { bytes, over } = await readUpTo(resp, maxAnswerBytes);
    if (over) throw notTheService(resp, `it is larger than ${maxAnswerBytes} bytes`);
    return bytes;
  }

  /** Sends one call and returns a 2xx answer; any other is thrown as EidwalletError. */
  async #send(
    method: string,
    path: string,
    body: unknown,
    opts: CallOptions,
    query: URLSearchParams | undefined,
    accept: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#apiKey}`, Accept: accept };
    if (this.#userAgent) headers["User-Agent"] = this.#userAgent;
    // No redirect is followed: the code and the key go to the service
    // configured, or nowhere.
    const init: RequestInit = { method, headers, redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (opts.signal) init.signal = opts.signal;
    const qs = query && [...query.keys()].length > 0 ? `?${query}` : "";
    const resp = await this.#fetch(this.baseUrl + path + qs, init);
    if (resp.status < 200 || resp.status > 299) throw await errorFromResponse(resp);
    return resp;
  }
}

/**
 * How long to wait before asking again after err, when it is an answer
 * that says to (429 rate_limited, 503 status or storage unavailable): its
 * Retry-After, or a second; undefined for any other error.
 */
function transient(err: unknown): number | undefined {
  if (!(err instanceof EidwalletError) || (err.status !== 429 && err.status !== 503)) return undefined;
  return Math.min(Math.max((err.retryAfter ?? 1) * 1000, 100), maxReconnectMs);
}

/** The media type of resp, lower case, without parameters ("" for none). */
function mediaType(resp: Response): string {
  return (resp.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** The most of a successful answer the kit reads (as the Go client). */
const maxAnswerBytes = 1 << 20;

/** A 2xx answer that is not one of the service's. */
function notTheService(resp: Response, why: string): EidwalletError {
  return new EidwalletError({
    status: resp.status,
    code: "",
    description: `the answer is not the service's: ${why}`,
    requestId: resp.headers.get("X-Request-Id") ?? undefined,
  });
}

/** The error event of a stream that failed on the service's side. */
function streamError(data: string): EidwalletError {
  try {
    const b = JSON.parse(data) as { error?: unknown; error_description?: unknown; reason?: unknown };
    if (typeof b.error === "string" && b.error !== "") {
      return new EidwalletError({
        status: 0,
        code: b.error as EidwalletError["code"],
        description: typeof b.error_description === "string" ? b.error_description : "",
        reason: typeof b.reason === "string" ? b.reason : undefined,
      });
    }
  } catch {
    // below
  }
  return new EidwalletError({ status: 0, code: "", description: "the event stream ended with an error event the kit could not read" });
}

/** Whether err is a broken connection (fetch's TypeError, an aborted body read), not a bad event. */
function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof Error && /terminated|socket|ECONNRESET|other side closed/i.test(err.message));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
