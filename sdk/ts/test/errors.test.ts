import { test } from "node:test";
import assert from "node:assert/strict";
import { EidwalletError, errorFromBody, errorFromResponse, isErrorCode, parseRetryAfter } from "../src/errors.js";

test("errorFromBody reads the SPEC §5 body: status, code, description, reason", () => {
  const e = errorFromBody(422, `{"error":"verification_failed","error_description":"the credential was revoked","reason":"credential_revoked"}`, {
    requestId: "req-7",
  });
  assert.ok(e instanceof EidwalletError && e instanceof Error);
  assert.equal(e.name, "EidwalletError");
  assert.equal(e.status, 422);
  assert.equal(e.code, "verification_failed");
  assert.equal(e.reason, "credential_revoked");
  assert.equal(e.description, "the credential was revoked");
  assert.equal(e.requestId, "req-7");
  assert.equal(e.message, "422 verification_failed (credential_revoked): the credential was revoked");
});

test("errorFromBody leaves reason undefined when the body has none", () => {
  const e = errorFromBody(409, `{"error":"share_already_redeemed","error_description":"the share was already used"}`);
  assert.equal(e.code, "share_already_redeemed");
  assert.equal(e.reason, undefined);
  assert.equal(e.message, "409 share_already_redeemed: the share was already used");
});

test("errorFromBody keeps an excerpt of a body that is not the service's (a proxy page), with no code", () => {
  const page = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + "x".repeat(500) + "</body></html>";
  const e = errorFromBody(502, page);
  assert.equal(e.code, "");
  assert.equal(e.reason, undefined);
  assert.ok(e.description.startsWith("<html> <head><title>502 Bad Gateway</title></head> <body>xxx"), e.description);
  assert.ok(e.description.length <= 201, String(e.description.length));
  for (const odd of ["", "null", "[]", `{"error":""}`, `{"error":7}`, "not json"]) {
    assert.equal(errorFromBody(500, odd).code, "", odd);
  }
});

test("errorFromResponse reads Retry-After in seconds or as an HTTP-date, and X-Request-Id", async () => {
  const now = new Date("2026-12-02T10:00:00Z");
  const r = new Response(`{"error":"rate_limited","error_description":"slow down"}`, {
    status: 429,
    headers: { "Retry-After": "3", "X-Request-Id": "abc" },
  });
  const e = await errorFromResponse(r, now);
  assert.equal(e.status, 429);
  assert.equal(e.code, "rate_limited");
  assert.equal(e.retryAfter, 3);
  assert.equal(e.requestId, "abc");
  assert.equal(parseRetryAfter("Wed, 02 Dec 2026 10:00:05 GMT", now), 5);
  assert.equal(parseRetryAfter("Wed, 02 Dec 2026 09:59:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  const plain = await errorFromResponse(new Response("", { status: 503 }), now);
  assert.equal(plain.retryAfter, undefined);
  assert.equal(plain.code, "");
});

test("isErrorCode knows SPEC §5's codes only", () => {
  assert.ok(isErrorCode("share_expired"));
  assert.ok(!isErrorCode("invalid_grant")); // the token endpoint's own, not a verifier route's
});
