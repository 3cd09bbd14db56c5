// Receive request results by webhook: WEBHOOK_SECRET=whsec_… PORT=8081 node build/examples/webhook-receiver.js
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import type { RequestResult } from "eidwallet-verifier";
import { parseWebhook, SIGNATURE_HEADER, WebhookSignatureError } from "eidwallet-verifier/webhook";

/** A request listener that checks each delivery and hands its result to onResult once. */
export function webhookHandler(secret: string, onResult: (r: RequestResult) => void) {
  const seen = new Set<string>(); // request ids already handled: keep them in your database
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy(); // a result is a few KiB
      else chunks.push(c);
    });
    req.on("end", () => {
      const body = Buffer.concat(chunks); // the exact bytes: the signature covers them, not re-encoded JSON
      let result: RequestResult;
      try {
        result = parseWebhook(secret, req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined, body);
      } catch (err) {
        if (!(err instanceof WebhookSignatureError)) throw err;
        res.writeHead(400).end();
        return;
      }
      // One delivery per decided request: its request_id, which the signature
      // covers (the Webhook-Id header is not), says whether it is new.
      const id = result.request_id;
      if (!seen.has(id)) {
        seen.add(id);
        onResult(result);
      }
      res.writeHead(204).end(); // any 2xx; anything else is sent again after 1, 2, 4, 8 and 16 s
    });
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const handler = webhookHandler(process.env.WEBHOOK_SECRET ?? "", (r) => {
    const claims = r.result?.documents.map((d) => d.claims) ?? [];
    console.log(r.request_id, r.status, JSON.stringify(claims));
  });
  createServer(handler).listen(Number(process.env.PORT ?? 8081), "127.0.0.1");
}
