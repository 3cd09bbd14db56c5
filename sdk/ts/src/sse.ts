// A reader of server-sent events (HTML Living Standard §9.2.6) over a
// fetch body: what GET /v1/verifier/requests/{id}/events sends.

/** One event: its name ("message" when the stream gave none) and its data lines joined by "\n". */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/** The state a stream leaves behind: the reconnection time it asked for. */
export interface StreamState {
  /** "retry:" in milliseconds, undefined when the stream sent none. */
  retry?: number;
}

/** The default cap on one event (and on one line), in characters. */
export const DEFAULT_MAX_EVENT = 1 << 20;

/**
 * Yields each event of the stream that has data; comment lines (": …",
 * the server's keep-alives) and fields other than event, data and retry
 * are skipped. An event cut off by the end of the stream is dropped, as
 * the standard says. An event (or a line) longer than max characters
 * throws: the stream is abandoned.
 */
export async function* readEvents(
  body: ReadableStream<Uint8Array>,
  state: StreamState = {},
  max: number = DEFAULT_MAX_EVENT,
): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buf = "";
  let name = "";
  let data: string[] = [];
  let hasData = false;
  let size = 0;
  // A "\r" at the end of a chunk may be the first half of "\r\n".
  let skipLF = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      for (;;) {
        if (skipLF && buf.length > 0) {
          if (buf[0] === "\n") buf = buf.slice(1);
          skipLF = false;
        }
        const end = buf.search(/[\r\n]/);
        if (end < 0) {
          if (buf.length > max) throw new Error(`server-sent event over ${max} characters`);
          break;
        }
        const line = buf.slice(0, end);
        if (buf[end] === "\r") {
          if (end + 1 < buf.length) {
            buf = buf.slice(end + (buf[end + 1] === "\n" ? 2 : 1));
          } else {
            buf = "";
            skipLF = true;
          }
        } else {
          buf = buf.slice(end + 1);
        }
        size += line.length + 1;
        if (size > max) throw new Error(`server-sent event over ${max} characters`);
        if (line === "") {
          if (hasData) yield { event: name || "message", data: data.join("\n") };
          name = "";
          data = [];
          hasData = false;
          size = 0;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? "" : line.slice(colon + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        switch (field) {
          case "event":
            name = v;
            break;
          case "data":
            data.push(v);
            hasData = true;
            break;
          case "retry":
            if (/^\d+$/.test(v)) state.retry = Number(v);
            break;
        }
      }
    }
  } finally {
    // Stops the download when the caller stops early (break, throw).
    await reader.cancel().catch(() => {});
  }
}
