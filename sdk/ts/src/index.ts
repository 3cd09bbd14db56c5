// eidwallet-verifier: a typed client of the eidwallet verifier API over
// fetch (Node 18 or later, browsers), with no runtime dependencies.
// The webhook signature check, which needs node:crypto, is the separate
// entry "eidwallet-verifier/webhook".

export { VerifierClient, MAX_WAIT_SECONDS, type CallOptions, type VerifierClientOptions } from "./client.js";
export { EidwalletError, errorFromBody, errorFromResponse, isErrorCode, parseErrorBody, parseRetryAfter } from "./errors.js";
export { readEvents, type ServerSentEvent, type StreamState } from "./sse.js";
export * from "./types.js";
