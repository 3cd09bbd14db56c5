// Checking a webhook delivery (docs/api.md "Webhook"): the service POSTs
// a request's RequestResult as JSON with
//
//   Eidwallet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//   Webhook-Id: whk_…   (the same on every attempt of one delivery)
//
// The secret is the whole whsec_… string the operator was shown when the
// webhook was set. Node only (node:crypto): import it from
// "eidwallet-verifier/webhook", not in a browser bundle.

import { createHmac, timingSafeEqual } from "node:crypto";
import type { RequestResult } from "./types.js";

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "Eidwallet-Signature";
/** The header that carries the delivery's id: ignore an id you have already handled. */
export const WEBHOOK_ID_HEADER = "Webhook-Id";
/** How far the signed time may be from now by default, in seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A delivery whose signature does not hold: answer it 400 and do not act on it. */
export class WebhookSignatureError extends Error {
  override readonly name = "WebhookSignatureError";
}

export interface VerifyWebhookOptions {
  /** The time to check against; now by default. */
  now?: Date;
  /** How far t may be from now, in seconds (300 by default): an older delivery is refused as a replay. */
  toleranceSeconds?: number;
}

/**
 * Checks a delivery: the HMAC over the timestamp and the exact body bytes
 * as received (not JSON parsed and written again), compared in constant
 * time, and the timestamp within the tolerance of now. Throws
 * WebhookSignatureError when any of it fails.
 */
export function verifyWebhook(
  secret: string,
  header: string | null | undefined,
  body: Uint8Array | string,
  opts: VerifyWebhookOptions = {},
): void {
  if (!secret) throw new WebhookSignatureError("webhook: no secret");
  let ts = "";
  const sigs: string[] = [];
  for (const part of (header ?? "").split(",")) {
    const p = part.trim();
    const eq = p.indexOf("=");
    if (eq < 0) continue;
    const k = p.slice(0, eq);
    const v = p.slice(eq + 1);
    if (k === "t") ts = v;
    else if (k === "v1") sigs.push(v);
  }
  if (!/^\d{1,12}$/.test(ts) || sigs.length === 0) {
    throw new WebhookSignatureError("webhook: malformed signature header");
  }
  const now = (opts.now ?? new Date()).getTime() / 1000;
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - Number(ts)) > tolerance) {
    throw new WebhookSignatureError(`webhook: timestamp ${ts} off by more than ${tolerance} s`);
  }
  const want = mac(secret, ts, body);
  for (const sig of sigs) {
    if (!/^[0-9a-f]{64}$/.test(sig)) continue;
    if (timingSafeEqual(want, Buffer.from(sig, "hex"))) return;
  }
  throw new WebhookSignatureError("webhook: signature does not match");
}

/**
 * verifyWebhook, then the body as the RequestResult it is: the request's
 * id and status, and once approved its result with the documents.
 */
export function parseWebhook(
  secret: string,
  header: string | null | undefined,
  body: Uint8Array | string,
  opts: VerifyWebhookOptions = {},
): RequestResult {
  verifyWebhook(secret, header, body, opts);
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  return JSON.parse(text) as RequestResult;
}

/**
 * The signature header the service would send for body at t (unix
 * seconds): for testing your own receiver.
 */
export function signWebhook(secret: string, t: number, body: Uint8Array | string): string {
  const ts = String(Math.floor(t));
  return `t=${ts},v1=${mac(secret, ts, body).toString("hex")}`;
}

function mac(secret: string, ts: string, body: Uint8Array | string): Buffer {
  const h = createHmac("sha256", secret);
  h.update(ts + ".");
  h.update(body);
  return h.digest();
}
