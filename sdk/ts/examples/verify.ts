// Verify the QR code a citizen shows: node build/examples/verify.js 'EID1:…'
import { EidwalletError, VerifierClient } from "eidwallet-verifier";

const verifier = new VerifierClient({
  baseUrl: process.env.EIDWALLET_URL ?? "http://127.0.0.1:8080",
  apiKey: process.env.VERIFIER_KEY ?? "",
});

try {
  const res = await verifier.verify(process.argv[2] ?? "", { signal: AbortSignal.timeout(10_000) });
  for (const doc of res.documents) {
    // Only what the citizen chose to disclose is in claims.
    console.log(`${doc.type} from ${doc.issuer.name}:`, JSON.stringify(doc.claims));
  }
} catch (err) {
  if (!(err instanceof EidwalletError)) throw err; // no answer: look at the log before trying again
  switch (err.code) {
    case "share_already_redeemed": // 409: a one-time code shown a second time
    case "share_expired": //          410: ask the citizen for a fresh code
    case "share_cancelled":
      console.log(`refused: ${err.code}`);
      break;
    case "verification_failed": //    422: credential_revoked, device_revoked, …
    case "forbidden": //              403: audience_mismatch, claims_not_registered
      console.log(`refused: ${err.code} (${err.reason})`);
      break;
    default: //                       401 key, 404 unknown code, 429, 503: not the citizen's fault
      console.log(`failed: ${err.message}`);
  }
  process.exitCode = 1;
}
