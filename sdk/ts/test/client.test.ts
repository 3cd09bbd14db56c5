import { test } from "node:test";
import assert from "node:assert/strict";
import { EidwalletError, VerifierClient, type RequestStatus } from "../src/index.js";

// What the client does on its own side, with a fetch that records the
// calls and answers as the service would: the reconnection of an event
// stream the service ended (it does after about four minutes, too long to
// wait for against a real server) and what goes on the wire. The calls
// against the real server are in server.test.ts.

type Answer = { status?: number; type?: string; body: string };

function fake(answers: Answer[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls.push({ url: String(input), init: init ?? {} });
    const a = answers.shift();
    assert.ok(a, `an unexpected call: ${String(input)}`);
    return new Response(a.body, { status: a.status ?? 200, headers: { "Content-Type": a.type ?? "application/json" } });
  };
  return { calls, fetch: f as typeof fetch };
}

const status = (s: RequestStatus) => `event: status\ndata: {"request_id":"req_1","status":"${s}","expires_at":"x","nonce":"n"}\n\n`;
const sse = "text/event-stream";

test("requestEvents opens the stream again after the service ends it, without repeating a status, until a final one", async () => {
  const f = fake([
    { type: sse, body: "retry: 10\n\n" + status("created") + ": keep-alive\n\n" },
    { type: sse, body: "retry: 10\n\n" + status("created") + status("delivered") },
    { type: sse, body: status("delivered") + status("approved") + status("approved") },
  ]);
  const v = new VerifierClient({ baseUrl: "http://wallet.test/", apiKey: "k", fetch: f.fetch });
  const seen: string[] = [];
  for await (const r of v.requestEvents("req_1")) seen.push(r.status);
  assert.deepEqual(seen, ["created", "delivered", "approved"]);
  assert.equal(f.calls.length, 3);
  assert.equal(f.calls[0]?.url, "http://wallet.test/v1/verifier/requests/req_1/events");
  const h = f.calls[0]?.init.headers as Record<string, string>;
  assert.equal(h.Authorization, "Bearer k");
  assert.equal(h.Accept, "text/event-stream");
});

test("requestEvents throws an error event as an EidwalletError of status 0, and an error answer with its status", async () => {
  const v = new VerifierClient({
    baseUrl: "http://wallet.test",
    apiKey: "k",
    fetch: fake([{ type: sse, body: status("created") + `event: error\ndata: {"error":"storage_unavailable","error_description":"try later"}\n\n` }]).fetch,
  });
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const r of v.requestEvents("req_1")) seen.push(r.status);
    })(),
    (e: unknown) => e instanceof EidwalletError && e.status === 0 && e.code === "storage_unavailable",
  );
  assert.deepEqual(seen, ["created"]);
  const gone = new VerifierClient({
    baseUrl: "http://wallet.test",
    apiKey: "k",
    fetch: fake([{ status: 404, body: `{"error":"not_found","error_description":"no such request"}` }]).fetch,
  });
  await assert.rejects(
    (async () => {
      for await (const _ of gone.requestEvents("req_1")) assert.fail("an event");
    })(),
    (e: unknown) => e instanceof EidwalletError && e.status === 404,
  );
});

test("getRequest sends wait in whole seconds, at most 60, and since; verify sends the code as JSON", async () => {
  const f = fake([
    { body: `{"request_id":"req_1","status":"created","expires_at":"x","nonce":"n"}` },
    { body: `{"request_id":"req_1","status":"created","expires_at":"x","nonce":"n"}` },
    { body: `{"result":"valid","share_id":"s","verified_at":"x","verifier":{"id":"bank","name":"B"},"documents":[]}` },
  ]);
  const v = new VerifierClient({ baseUrl: "http://wallet.test", apiKey: "k", fetch: f.fetch });
  await v.getRequest("req 1", { wait: 2.5, since: "created" });
  await v.getRequest("req_1", { wait: 600 });
  await v.verify("EID1:ABC");
  assert.equal(f.calls[0]?.url, "http://wallet.test/v1/verifier/requests/req%201?wait=3&since=created");
  assert.equal(f.calls[1]?.url, "http://wallet.test/v1/verifier/requests/req_1?wait=60");
  assert.equal(f.calls[2]?.init.method, "POST");
  assert.equal(f.calls[2]?.init.body, `{"qr":"EID1:ABC"}`);
  assert.equal((f.calls[2]?.init.headers as Record<string, string>)["Content-Type"], "application/json");
});

test("an answer that is not the service's is an EidwalletError: a proxy's page, a body past the cap, an endless error body; no redirect is followed", async () => {
  // An error body that never ends: the kit reads 64 KiB of it and stops.
  let pulled = 0;
  const endless = () =>
    new ReadableStream<Uint8Array>({
      pull(c) {
        pulled += 16 << 10;
        c.enqueue(new Uint8Array(16 << 10).fill(0x3c));
      },
    });
  const calls: RequestInit[] = [];
  const answers: (() => Response)[] = [
    () => new Response(endless(), { status: 500, headers: { "Content-Type": "text/html" } }),
    () => new Response("<html>Welcome to nginx</html>", { status: 200, headers: { "Content-Type": "text/html" } }),
    () => new Response(endless(), { status: 200, headers: { "Content-Type": "application/json" } }),
    () => new Response("{not json", { status: 200, headers: { "Content-Type": "application/json" } }),
    () => new Response("<html></html>", { status: 200, headers: { "Content-Type": "text/html" } }),
  ];
  const f = (async (_input: string | URL | Request, init?: RequestInit) => {
    calls.push(init ?? {});
    const a = answers.shift();
    assert.ok(a, "an unexpected call");
    return a();
  }) as typeof fetch;
  const v = new VerifierClient({ baseUrl: "http://wallet.test", apiKey: "k", fetch: f });
  await assert.rejects(v.verify("EID1:X"), (e: unknown) => e instanceof EidwalletError && e.status === 500);
  assert.ok(pulled <= (64 << 10) + (32 << 10), `read ${pulled} bytes of an endless error body`);
  for (const why of ["not application/json", "larger than", "does not parse"]) {
    await assert.rejects(v.verify("EID1:X"), (e: unknown) => e instanceof EidwalletError && e.code === "" && e.description.includes(why));
  }
  assert.ok(pulled <= (64 << 10) + (1 << 20) + (128 << 10), `read ${pulled} bytes in all`);
  await assert.rejects(v.requestQR("req_1", "png"), (e: unknown) => e instanceof EidwalletError && e.description.includes("not image/png"));
  assert.ok(calls.every((c) => c.redirect === "error"), "a call follows redirects");
});

test("a 429 or 503 while waiting is waited out: waitForRequest asks again, requestEvents opens again; the first opening's 429 is the caller's", async () => {
  const result = (s: RequestStatus) => JSON.stringify({ request_id: "req_1", status: s, expires_at: "x", nonce: "n" });
  const answers: Answer[] = [
    { status: 503, body: `{"error":"storage_unavailable","error_description":"later"}` },
    { status: 429, body: `{"error":"rate_limited","error_description":"slow"}` },
    { body: result("approved") },
  ];
  const calls: RequestInit[] = [];
  const f = (async (_input: string | URL | Request, init?: RequestInit) => {
    calls.push(init ?? {});
    const a = answers.shift();
    assert.ok(a, "an unexpected call");
    return new Response(a.body, { status: a.status ?? 200, headers: { "Content-Type": a.type ?? "application/json", "Retry-After": "0" } });
  }) as typeof fetch;
  const v = new VerifierClient({ baseUrl: "http://wallet.test", apiKey: "k", fetch: f });
  assert.equal((await v.waitForRequest("req_1")).status, "approved");
  assert.equal(calls.length, 3);

  answers.push(
    { type: sse, body: "retry: 10\n\n" + status("created") },
    { status: 429, body: `{"error":"rate_limited","error_description":"slow"}` },
    { type: sse, body: status("approved") },
  );
  const seen: string[] = [];
  for await (const r of v.requestEvents("req_1")) seen.push(r.status);
  assert.deepEqual(seen, ["created", "approved"]);

  answers.push({ status: 429, body: `{"error":"rate_limited","error_description":"slow"}` });
  await assert.rejects(
    (async () => {
      for await (const r of v.requestEvents("req_1")) seen.push(r.status);
    })(),
    (e: unknown) => e instanceof EidwalletError && e.status === 429,
  );
  answers.push({ status: 404, body: `{"error":"not_found","error_description":"no"}` });
  await assert.rejects(v.waitForRequest("req_1"), (e: unknown) => e instanceof EidwalletError && e.status === 404);
});
