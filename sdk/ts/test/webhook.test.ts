import { test } from "node:test";
import assert from "node:assert/strict";
import { parseWebhook, signWebhook, verifyWebhook, WebhookSignatureError } from "../src/webhook.js";

// Vectors made by the service's own signer, api.SignWebhook in Go: the
// kit must agree with it byte for byte (a UTF-8 secret and body included).
const body = `{"request_id":"req_01","status":"declined","expires_at":"2026-12-02T10:00:00Z","nonce":"n0nce"}`;
const secret = "whsec_test_secret";
const t = 1796212800;
const header = "t=1796212800,v1=070e748511d665ba26614faec95748c4da40adc9e185826032ae422661e38f8f";
const at = new Date(t * 1000);

test("signWebhook matches the service's api.SignWebhook", () => {
  assert.equal(signWebhook(secret, t, body), header);
  assert.equal(
    signWebhook("whsec_Đà Nẵng", t, `{"x":"Nguyễn"}`),
    "t=1796212800,v1=9c02bcb168106c52a94a98767684252bbca95a098931f8d719f093dffa9cb11c",
  );
});

test("verifyWebhook accepts the service's signature over the exact bytes, as string or bytes", () => {
  verifyWebhook(secret, header, body, { now: at });
  verifyWebhook(secret, header, new TextEncoder().encode(body), { now: new Date((t + 299) * 1000) });
  const r = parseWebhook(secret, header, body, { now: at });
  assert.equal(r.request_id, "req_01");
  assert.equal(r.status, "declined");
});

test("verifyWebhook refuses a tampered body, another secret, a forged MAC and a malformed header", () => {
  const refused = (name: string, s: string, h: string | null | undefined, b: string, re: RegExp) =>
    assert.throws(() => verifyWebhook(s, h, b, { now: at }), (err: unknown) => err instanceof WebhookSignatureError && re.test(err.message), name);
  refused("one byte changed", secret, header, body.replace("declined", "approved"), /does not match/);
  refused("re-serialized JSON", secret, header, JSON.stringify(JSON.parse(body), null, 1), /does not match/);
  refused("a space appended", secret, header, body + " ", /does not match/);
  refused("another secret", "whsec_other", header, body, /does not match/);
  refused("another timestamp in the header", secret, header.replace("t=1796212800", "t=1796212801"), body, /does not match/);
  refused("a forged MAC", secret, "t=1796212800,v1=" + "0".repeat(64), body, /does not match/);
  refused("no v1", secret, "t=1796212800", body, /malformed/);
  refused("no t", secret, "v1=070e748511d665ba26614faec95748c4da40adc9e185826032ae422661e38f8f", body, /malformed/);
  refused("no header", secret, undefined, body, /malformed/);
  refused("empty secret", "", header, body, /no secret/);
});

test("verifyWebhook refuses a timestamp outside the tolerance (a replayed delivery)", () => {
  assert.throws(() => verifyWebhook(secret, header, body, { now: new Date((t + 301) * 1000) }), /off by more than 300 s/);
  assert.throws(() => verifyWebhook(secret, header, body, { now: new Date((t - 301) * 1000) }), /off by more than 300 s/);
  assert.throws(() => verifyWebhook(secret, header, body, { now: new Date((t + 61) * 1000), toleranceSeconds: 60 }), /off by more than 60 s/);
  verifyWebhook(secret, header, body, { now: new Date((t + 59) * 1000), toleranceSeconds: 60 });
});

test("verifyWebhook accepts any one matching v1 of several (a secret being rotated)", () => {
  const good = header.split(",v1=")[1]!;
  verifyWebhook(secret, `t=${t},v1=${"a".repeat(64)},v1=${good}`, body, { now: at });
});
