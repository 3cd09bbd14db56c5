// The kit against a real eidwallet server. cmd/eidwallet's
// TestTypeScriptKit starts one on 127.0.0.1, prepares a verifier key and
// share codes, and runs `npm test` with them in the environment:
//
//   EIDWALLET_URL               the server
//   EIDWALLET_VERIFIER_KEY/_ID  a verifier registered for national_id full_name, age_over_18
//                               and health_insurance card_number
//   EIDWALLET_QR                a one-time share of national_id full_name, age_over_18
//   EIDWALLET_QR_OTHER_VERIFIER a share bound to another verifier
//   EIDWALLET_QR_UNREGISTERED   a share of a claim the verifier is not registered for
//   EIDWALLET_QR_CANCELLED      a share the citizen cancelled
//   EIDWALLET_QR_EXPIRED        a share past its time
//   EIDWALLET_QR_REVOKED        a share of a credential revoked after the approval
//   EIDWALLET_TEST_HARNESS      the citizen's app and the operator, driven by the Go test over
//                               HTTP on 127.0.0.1 (the real client package against the same server)
//
// Without EIDWALLET_URL these tests are skipped: `npm test` alone runs the
// kit's own tests.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { AddressInfo } from "node:net";
import { EidwalletError, VerifierClient, type RequestResult, type RequestStatus, type VerifyResponse } from "../src/index.js";
import { SIGNATURE_HEADER, WEBHOOK_ID_HEADER, verifyWebhook, WebhookSignatureError } from "../src/webhook.js";
import { webhookHandler } from "../examples/webhook-receiver.js";

const env = process.env;
const url = env.EIDWALLET_URL ?? "";
const key = env.EIDWALLET_VERIFIER_KEY ?? "";
const verifierId = env.EIDWALLET_VERIFIER_ID ?? "";
const harness = env.EIDWALLET_TEST_HARNESS ?? "";

function need(name: string): string {
  const v = env[name];
  assert.ok(v, `${name} is not set`);
  return v;
}

/** Calls the Go test's harness: the citizen's app (share, scan, presence, answer) and the operator (webhook, origins). */
async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const resp = await fetch(harness + path, init);
  const text = await resp.text();
  assert.equal(resp.status, 200, `harness ${method} ${path}: ${resp.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Runs fn, which must throw an EidwalletError, and returns it. */
async function refusal(fn: () => Promise<unknown>): Promise<EidwalletError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof EidwalletError, `not an EidwalletError: ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}

function claimNames(res: VerifyResponse): string[][] {
  return res.documents.map((d) => Object.keys(d.claims).sort());
}

/** A webhook receiver on 127.0.0.1: each path a handler. */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A value pushed once, awaited with a time limit. */
function waiter<T>(what: string): { push: (v: T) => void; wait: (ms: number) => Promise<T> } {
  let push!: (v: T) => void;
  const pushed = new Promise<T>((resolve) => (push = resolve));
  const wait = (ms: number) => {
    let t: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
    return Promise.race([pushed, late]).finally(() => clearTimeout(t));
  };
  return { push, wait };
}

describe("against a real server", { skip: url === "" ? "EIDWALLET_URL not set (cmd/eidwallet TestTypeScriptKit sets it)" : false }, () => {
  const v = new VerifierClient({ baseUrl: url, apiKey: key, userAgent: "eidwallet-verifier-test" });

  test("a valid QR verifies and answers only the disclosed claims; a second redemption is 409 share_already_redeemed", async () => {
    const qr = need("EIDWALLET_QR");
    const res = await v.verify(qr);
    assert.equal(res.result, "valid");
    assert.equal(res.verifier.id, verifierId);
    assert.equal(res.documents.length, 1);
    const doc = res.documents[0]!;
    assert.equal(doc.type, "national_id");
    assert.equal(doc.issuer.id, "mps");
    assert.equal(doc.status, "valid");
    assert.equal(doc.holder_binding, "verified");
    assert.deepEqual(Object.keys(doc.claims).sort(), ["age_over_18", "full_name"]);
    assert.equal(doc.claims.full_name, "Pham Thi Testcase");
    assert.equal(doc.claims.age_over_18, true);
    assert.ok(doc.key_binding.aud !== "" && doc.key_binding.nonce !== "");
    // issuer JWT, one disclosure per claim, then the KB-JWT
    assert.equal(doc.presentation.split("~").length, 4, doc.presentation.slice(0, 40));
    assert.ok(!Number.isNaN(Date.parse(res.verified_at)));

    const again = await refusal(() => v.verify(qr));
    assert.equal(again.status, 409);
    assert.equal(again.code, "share_already_redeemed");
    assert.equal(again.reason, undefined); // SPEC §5: a reason only for 422 and the 403s of verify
    assert.ok(again.description !== "");
    assert.ok(again.requestId, "X-Request-Id");

    // Both are in the verifier's own log, newest first, claims named <type>.<claim>.
    const log = await v.verifications({ limit: 50 });
    const mine = log.entries.filter((e) => e.share_id === res.share_id).map((e) => [e.result, [...(e.claims ?? [])].sort()]);
    assert.deepEqual(mine, [
      ["share_already_redeemed", []],
      ["valid", ["national_id.age_over_18", "national_id.full_name"]],
    ]);
    const first = await v.verifications({ limit: 1 });
    assert.equal(first.entries.length, 1);
    assert.ok(first.next_cursor, "a page of one of a longer log has a next_cursor");
    const second = await v.verifications({ limit: 1, cursor: first.next_cursor });
    assert.equal(second.entries.length, 1);
    assert.notDeepEqual(second.entries[0], first.entries[0], "the next page goes on after the first");
    const bad = await refusal(() => v.verifications({ limit: 0 }));
    assert.equal(bad.status, 400);
    assert.equal(bad.code, "invalid_request");
  });

  test("a bad API key is 401 unauthenticated", async () => {
    const wrong = new VerifierClient({ baseUrl: url, apiKey: "vk_not-a-key" });
    for (const f of [() => wrong.verify(need("EIDWALLET_QR")), () => wrong.verifications()]) {
      const e = await refusal(f);
      assert.equal(e.status, 401);
      assert.equal(e.code, "unauthenticated");
    }
  });

  test("each refusal of POST /v1/verify arrives as an EidwalletError with its status, code and reason", async () => {
    const cases: [string, number, string, string | undefined][] = [
      [need("EIDWALLET_QR_OTHER_VERIFIER"), 403, "forbidden", "audience_mismatch"],
      [need("EIDWALLET_QR_UNREGISTERED"), 403, "forbidden", "claims_not_registered"],
      [need("EIDWALLET_QR_CANCELLED"), 410, "share_cancelled", undefined],
      [need("EIDWALLET_QR_EXPIRED"), 410, "share_expired", undefined],
      [need("EIDWALLET_QR_REVOKED"), 422, "verification_failed", "credential_revoked"],
      ["EID1:AAAAAAAAAAAAAAAAAAAAAAAAAA", 404, "not_found", undefined],
      ["", 400, "invalid_request", undefined],
    ];
    for (const [qr, status, code, reason] of cases) {
      const e = await refusal(() => v.verify(qr));
      assert.deepEqual([e.status, e.code, e.reason], [status, code, reason], `${qr.slice(0, 10)}…: ${e.message}`);
    }
    // A 403 spends nothing: the share bound to another verifier is refused the same way again.
    const e = await refusal(() => v.verify(need("EIDWALLET_QR_OTHER_VERIFIER")));
    assert.equal(e.reason, "audience_mismatch");
  });

  describe("requests, long-poll, events and webhooks", () => {
    let hooks: { server: Server; url: string };
    const raw: { headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];
    const viaExample = waiter<RequestResult>("result through examples/webhook-receiver");
    const rawDelivery = waiter<void>("raw webhook delivery");
    let exampleHandler = webhookHandler("", () => {}); // replaced once the secret is known

    before(async () => {
      hooks = await listen((req, res) => {
        if (req.url === "/example") return exampleHandler(req, res);
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          raw.push({ headers: req.headers, body: Buffer.concat(chunks) });
          res.writeHead(204).end();
          rawDelivery.push();
        });
      });
    });
    after(async () => {
      await call("PUT", "/webhook", { url: "" });
      await new Promise<void>((resolve) => hooks.server.close(() => resolve()));
    });

    test("a verifier-shown request: its QR, events, long-poll and a signed webhook give exactly the approved claims", async () => {
      const { secret } = await call<{ secret: string }>("PUT", "/webhook", { url: hooks.url + "/raw" });
      assert.match(secret, /^whsec_/);

      const created = await v.createRequest({ claims: { national_id: ["age_over_18"] }, purpose: "Age check", ttl_seconds: 120 });
      assert.equal(created.status, "created");
      assert.match(created.qr_text ?? "", /^EIDR1:/);
      assert.ok(created.nonce !== "");
      const png = await v.requestQR(created.request_id, "png", { size: 128 });
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const svg = new TextDecoder().decode(await v.requestQR(created.request_id, "svg"));
      assert.match(svg, /<svg/);
      assert.equal((await v.getRequest(created.request_id)).status, "created");

      // Follow it by events while the citizen scans and approves.
      const statuses: RequestStatus[] = [];
      const followed = (async () => {
        let last: RequestResult | undefined;
        for await (const r of v.requestEvents(created.request_id, { signal: AbortSignal.timeout(30_000) })) {
          statuses.push(r.status);
          last = r;
        }
        return last;
      })();
      const polled = v.waitForRequest(created.request_id, { signal: AbortSignal.timeout(30_000) });
      await call("POST", "/scan", { qr: created.qr_text });

      for (const [how, res] of [
        ["long-poll", await polled],
        ["events", await followed],
      ] as const) {
        assert.ok(res, how);
        assert.equal(res.status, "approved", how);
        assert.equal(res.request_id, created.request_id, how);
        assert.ok(res.result, how);
        assert.deepEqual(claimNames(res.result), [["age_over_18"]], how);
        assert.equal(res.result.documents[0]?.claims.age_over_18, true, how);
        assert.equal(res.result.documents[0]?.key_binding.aud, verifierId, how);
        assert.equal(res.result.documents[0]?.key_binding.nonce, created.nonce, how);
      }
      assert.equal(statuses[0], "created");
      assert.equal(statuses.at(-1), "approved");
      assert.equal(new Set(statuses).size, statuses.length, `no status repeated: ${statuses}`);

      // Once scanned the code is gone.
      const gone = await refusal(() => v.requestQR(created.request_id, "png"));
      assert.equal(gone.status, 409);

      // The webhook: a real delivery verifies; tampered, re-signed with another secret or replayed late, it does not.
      await rawDelivery.wait(20_000);
      const d = raw[0]!;
      const sig = d.headers[SIGNATURE_HEADER.toLowerCase()] as string;
      assert.match(String(d.headers[WEBHOOK_ID_HEADER.toLowerCase()]), /^whk_/);
      assert.match(sig, /^t=\d+,v1=[0-9a-f]{64}$/);
      verifyWebhook(secret, sig, d.body);
      const hooked = JSON.parse(d.body.toString("utf8")) as RequestResult;
      assert.equal(hooked.request_id, created.request_id);
      assert.equal(hooked.status, "approved");
      assert.deepEqual(claimNames(hooked.result!), [["age_over_18"]]);
      const text = d.body.toString("utf8");
      assert.ok(text.includes(`"age_over_18":true`), text.slice(0, 200));
      for (const [what, s, h, b, opts] of [
        ["a claim changed", secret, sig, Buffer.from(text.replace(`"age_over_18":true`, `"age_over_18":false`)), {}],
        ["another request id", secret, sig, Buffer.from(text.replace(created.request_id, "req_forged")), {}],
        ["another secret", "whsec_guess", sig, d.body, {}],
        ["replayed ten minutes later", secret, sig, d.body, { now: new Date(Date.now() + 600_000) }],
      ] as const) {
        assert.throws(() => verifyWebhook(s, h, b, opts), WebhookSignatureError, what);
      }
    });

    test("a presence request the citizen declines: long-poll with since, and the webhook through examples/webhook-receiver", async () => {
      const { secret } = await call<{ secret: string }>("PUT", "/webhook", { url: hooks.url + "/example" });
      exampleHandler = webhookHandler(secret, viaExample.push);

      const { qr_text } = await call<{ qr_text: string }>("POST", "/presence");
      assert.match(qr_text, /^EIDP1:/);
      const created = await v.createRequest({ claims: { national_id: ["full_name"] }, purpose: "Parcel pickup", presence: qr_text });
      assert.equal(created.qr_text, undefined);
      // A presence request has no code to show.
      assert.equal((await refusal(() => v.requestQR(created.request_id, "png"))).status, 404);

      const first = await v.getRequest(created.request_id, { wait: 1, since: "created" });
      assert.ok(first.status === "created" || first.status === "delivered", first.status);
      await call("POST", "/answer", { request_id: created.request_id, decline: true });
      const res = await v.getRequest(created.request_id, { wait: 30 });
      assert.equal(res.status, "declined");
      assert.equal(res.result, undefined);

      const hooked = await viaExample.wait(20_000);
      assert.equal(hooked.request_id, created.request_id);
      assert.equal(hooked.status, "declined");
    });

    test("createRequest refuses a claim the verifier is not registered for (403), an unknown presence code (404), a bad body (400)", async () => {
      const cases: [Parameters<VerifierClient["createRequest"]>[0], number, string][] = [
        [{ claims: { national_id: ["place_of_residence"] }, purpose: "Address" }, 403, "forbidden"],
        [{ claims: { national_id: ["full_name"] }, purpose: "x", presence: "EIDP1:AAAAAAAAAAAAAAAAAAAAAAAAAA" }, 404, "not_found"],
        [{ claims: { national_id: ["full_name"] }, purpose: "" }, 400, "invalid_request"],
        [{ claims: { national_id: ["full_name"] }, purpose: "x", ttl_seconds: 601 }, 400, "invalid_request"],
      ];
      for (const [req, status, code] of cases) {
        const e = await refusal(() => v.createRequest(req));
        assert.deepEqual([e.status, e.code], [status, code], `${JSON.stringify(req)}: ${e.message}`);
      }
    });

    test("an unknown request is 404 not_found by getRequest and by requestEvents", async () => {
      assert.equal((await refusal(() => v.getRequest("req_unknown"))).status, 404);
      const e = await refusal(async () => {
        for await (const _ of v.requestEvents("req_unknown")) assert.fail("an event for an unknown request");
      });
      assert.deepEqual([e.status, e.code], [404, "not_found"]);
      assert.equal((await refusal(() => v.getRequest("req_unknown", { wait: 0, since: "created" }))).code, "not_found");
    });
  });

  test("examples/verify.js prints the disclosed claims, then refuses the same code as already redeemed", async () => {
    const { qr_text } = await call<{ qr_text: string }>("POST", "/share", { claims: { national_id: ["full_name"] } });
    const script = fileURLToPath(new URL("../examples/verify.js", import.meta.url));
    const run = (qr: string) =>
      promisify(execFile)(process.execPath, [script, qr], { env: { ...env, EIDWALLET_URL: url, VERIFIER_KEY: key } }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
      );
    assert.deepEqual(await run(qr_text), { code: 0, out: `national_id from Ministry of Public Security: {"full_name":"Pham Thi Testcase"}\n` });
    assert.deepEqual(await run(qr_text), { code: 1, out: "refused: share_already_redeemed\n" });
  });

  test("examples/request.js prints the EIDR1: code, then each status until approved with the claim", async () => {
    const script = fileURLToPath(new URL("../examples/request.js", import.meta.url));
    const child = spawn(process.execPath, [script], { env: { ...env, EIDWALLET_URL: url, VERIFIER_KEY: key } });
    let out = "";
    // The citizen scans once the stream is open (its first event, created, printed).
    const scanned = waiter<string>("EIDR1: code and created on stdout");
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const m = /^(EIDR1:\S+)\ncreated\n/.exec(out);
      if (m) scanned.push(m[1]!);
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await call("POST", "/scan", { qr: await scanned.wait(10_000) });
      assert.equal(await exited, 0);
    } finally {
      child.kill();
    }
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.at(-1), `approved national_id {"age_over_18":true}`);
    assert.ok(lines.length <= 4, out); // at most delivered between
  });

  test("CORS: a page of an allowed origin reads the answer; another origin is 403 and the share is not spent", async () => {
    const allowed = "https://teller.bank.example";
    await call("PUT", "/origins", { origins: [allowed] });
    const from = (origin: string) =>
      new VerifierClient({
        baseUrl: url,
        apiKey: key,
        // What a browser adds by itself; Node's fetch sends it as given.
        fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), Origin: origin } }),
      });
    const { qr_text } = await call<{ qr_text: string }>("POST", "/share", { claims: { national_id: ["age_over_18"] } });

    const e = await refusal(() => from("https://evil.example").verify(qr_text));
    assert.deepEqual([e.status, e.code], [403, "forbidden"]);

    let allowOrigin: string | null = null;
    const spy = new VerifierClient({
      baseUrl: url,
      apiKey: key,
      fetch: async (input, init) => {
        const resp = await fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), Origin: allowed } });
        allowOrigin = resp.headers.get("Access-Control-Allow-Origin");
        return resp;
      },
    });
    const res = await spy.verify(qr_text);
    assert.deepEqual(claimNames(res), [["age_over_18"]]);
    assert.equal(allowOrigin, allowed);

    // The preflight a browser sends first, with no key.
    const pre = await fetch(url + "/v1/verify", {
      method: "OPTIONS",
      headers: { Origin: allowed, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("Access-Control-Allow-Origin"), allowed);
    assert.match(pre.headers.get("Access-Control-Allow-Headers") ?? "", /Authorization/);
    await call("PUT", "/origins", { origins: [] });
  });
});
