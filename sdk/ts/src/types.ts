// The wire types of the verifier routes, as docs/openapi.json describes
// them (components/schemas). Written by hand; test/openapi.test.ts holds
// every interface here to its schema: the same members, the same ones
// required. Times are RFC 3339 strings, as on the wire.

/** An issuer or a verifier. */
export interface Party {
  id: string;
  name: string;
}

/** POST /v1/verify. */
export interface VerifyRequest {
  /** The scanned QR text: EID1:…, or an offline EIDC1:… code. */
  qr: string;
}

/** The audience and nonce the holder's KB-JWT was bound to. */
export interface KeyBinding {
  aud: string;
  nonce: string;
}

/** One verified credential. */
export interface Document {
  /** The credential type id: national_id, health_insurance, driver_licence, … */
  type: string;
  issuer: Party;
  issued_at: string;
  expires_at: string;
  status: "valid";
  holder_binding: "verified";
  key_binding: KeyBinding;
  /** Only the claims the citizen disclosed, by name. */
  claims: Record<string, unknown>;
  /** <issuer-jwt>~<disclosure>~…~<kb-jwt>: to check again on your own with the issuer's keys. */
  presentation: string;
}

/** The answer of POST /v1/verify (and a request's result once approved). */
export interface VerifyResponse {
  result: "valid";
  share_id: string;
  verified_at: string;
  verifier: Party;
  documents: Document[];
}

/** One entry of the verifier's own log. */
export interface Verification {
  /**
   * The entry's key, increasing with time. It is above 2^53 (milliseconds
   * shifted left by 20 bits), so a JavaScript number holds it only
   * approximately: order entries by it, never use it as an identifier.
   */
  seq: number;
  verifier_id: string;
  at: string;
  share_id?: string;
  /** The request of a requested, approved, declined or refused-response entry. */
  request_id?: string;
  /** valid, or the error code of the refused redemption. */
  result: string;
  reason?: string;
  types?: string[];
  claims?: string[];
}

/** GET /v1/verifier/verifications, newest first: one page; next_cursor while more may follow. */
export interface VerificationsResponse {
  entries: Verification[];
  next_cursor?: string;
}

/** A request's state: created → delivered → approved | declined, or expired. */
export type RequestStatus = "created" | "delivered" | "approved" | "declined" | "expired";

/** The request states, in the order of RequestStatus. */
export const REQUEST_STATUSES: readonly RequestStatus[] = ["created", "delivered", "approved", "declined", "expired"];

/** A status that will not change again. */
export function isFinalStatus(status: RequestStatus): boolean {
  return status === "approved" || status === "declined" || status === "expired";
}

/** POST /v1/verifier/requests: ask a citizen for claims. */
export interface CreateRequestRequest {
  /** Claim names by credential type, e.g. {national_id: ["age_over_18"]}; only claims the verifier is registered for. */
  claims?: Record<string, string[]>;
  /** Why, shown to the citizen (1 to 200 characters). */
  purpose: string;
  /** 1 to 600; the service's default is 120. */
  ttl_seconds?: number;
  /** The EIDP1: text of the citizen's presence code the staff scanned. */
  presence?: string;
  /** "openid4vp": a request any standard wallet can answer. */
  protocol?: "openid4vp";
  /** openid4vp only, instead of claims: a DCQL query. */
  dcql_query?: Record<string, unknown>;
  client_id_prefix?: "x509_san_dns" | "x509_hash" | "redirect_uri";
  response_mode?: "direct_post.jwt" | "direct_post";
}

/** The answer to CreateRequestRequest. */
export interface CreateRequestResponse {
  request_id: string;
  status: "created";
  /** EIDR1:… to show (or the openid4vp:// link); absent for a presence request. */
  qr_text?: string;
  expires_at: string;
  /** Every KB-JWT answering the request carries it. */
  nonce: string;
  haip_link?: string;
  client_id?: string;
  request_uri?: string;
}

/** A request as its verifier sees it; also the body of a webhook delivery. */
export interface RequestResult {
  request_id: string;
  status: RequestStatus;
  expires_at: string;
  nonce: string;
  /** Once approved: exactly the approved claims (share_id is the request id). */
  result?: VerifyResponse;
}

/** One code a counter verified with no network. */
export interface OfflineVerification {
  /** The code's cti, base64url. */
  cti: string;
  verified_at: string;
  /** valid, or the offline verifier's reason. */
  result: string;
  type?: string;
}

/** POST /v1/verifier/offline-verifications: 1 to 1,000 at a time. */
export interface OfflineVerifications {
  verifications: OfflineVerification[];
}

/** How many were taken, and the ctis already used at another verifier. */
export interface OfflineUploadResult {
  accepted: number;
  flagged: string[];
}

/** The error codes of SPEC §5 (docs/openapi.json Error.error). */
export const ERROR_CODES = [
  "invalid_request",
  "unauthenticated",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "share_already_redeemed",
  "replay_detected",
  "conflict",
  "share_expired",
  "share_cancelled",
  "payload_too_large",
  "unsupported_media_type",
  "verification_failed",
  "rate_limited",
  "status_unavailable",
  "storage_unavailable",
  "server_error",
  "idempotency_key_reused",
] as const;

/** An error code of SPEC §5. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The reasons a verifier meets: 403 forbidden on POST /v1/verify
 * (audience_mismatch, claims_not_registered) and 422 verification_failed
 * (the rest). The service may add others: treat an unknown one as a
 * failed verification.
 */
export type Reason =
  | "audience_mismatch"
  | "claims_not_registered"
  | "invalid_signature"
  | "unsupported_alg"
  | "untrusted_issuer"
  | "issuer_not_authorized_for_type"
  | "credential_revoked"
  | "credential_suspended"
  | "credential_expired"
  | "device_revoked"
  | "kb_required"
  | "kb_invalid"
  | "kb_nonce_mismatch"
  | "kb_aud_mismatch"
  | "kb_sd_hash_mismatch"
  | "kb_iat_out_of_window"
  | (string & {});

/** The error body of every route: {error, error_description, reason?}. */
export interface ErrorBody {
  error: ErrorCode;
  error_description: string;
  reason?: Reason;
}
