import { test } from "node:test";
import assert from "node:assert/strict";
import { readEvents, type ServerSentEvent, type StreamState } from "../src/sse.js";

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(enc.encode(s));
      c.close();
    },
  });
}

async function all(chunks: string[], state: StreamState = {}, max?: number): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const ev of readEvents(stream(chunks), state, max)) out.push(ev);
  return out;
}

test("readEvents reads the service's stream: retry, named events, keep-alive comments", async () => {
  const state: StreamState = {};
  const evs = await all(
    ["retry: 2000\n\nevent: status\ndata: {\"status\":\"created\"}\n\n", ": keep-alive\n\n", "event: status\ndata: {\"status\":\"approved\"}\n\n"],
    state,
  );
  assert.deepEqual(evs, [
    { event: "status", data: `{"status":"created"}` },
    { event: "status", data: `{"status":"approved"}` },
  ]);
  assert.equal(state.retry, 2000);
});

test("readEvents takes any line end, split anywhere across chunks, and joins data lines", async () => {
  const text = "event: a\r\ndata: 1\r\ndata: 2\r\n\r\nevent: b\rdata: 3\r\rdata:no-space\n\n";
  const want = [
    { event: "a", data: "1\n2" },
    { event: "b", data: "3" },
    { event: "message", data: "no-space" },
  ];
  for (let i = 0; i <= text.length; i++) {
    assert.deepEqual(await all([text.slice(0, i), text.slice(i)]), want, `split at ${i}`);
  }
  assert.deepEqual(await all([...text]), want, "one character a chunk");
});

test("readEvents drops an event cut off by the end of the stream, and one without data", async () => {
  assert.deepEqual(await all(["event: status\n\n", "event: status\ndata: {}"]), []);
});

test("readEvents refuses an event over the cap", async () => {
  await assert.rejects(all(["data: " + "x".repeat(100) + "\n\n"], {}, 64), /over 64 characters/);
  await assert.rejects(all(["data: " + "x".repeat(100)], {}, 64), /over 64 characters/);
});
