// Ask the citizen for claims and wait for the answer: node build/examples/request.js
import { VerifierClient } from "eidwallet-verifier";

const verifier = new VerifierClient({
  baseUrl: process.env.EIDWALLET_URL ?? "http://127.0.0.1:8080",
  apiKey: process.env.VERIFIER_KEY ?? "",
});

const req = await verifier.createRequest({
  claims: { national_id: ["age_over_18"] },
  purpose: "Open an account: age check",
  ttl_seconds: 120,
});
console.log(req.qr_text); // show it as a QR code (or verifier.requestQR(req.request_id, "svg"))

// The state at once, then at each change, until approved, declined or expired.
for await (const r of verifier.requestEvents(req.request_id, { signal: AbortSignal.timeout(150_000) })) {
  if (r.status === "approved") {
    for (const doc of r.result?.documents ?? []) console.log(r.status, doc.type, JSON.stringify(doc.claims));
  } else {
    console.log(r.status);
  }
}
