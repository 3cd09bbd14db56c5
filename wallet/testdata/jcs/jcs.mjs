// jcs.mjs recomputes activity entry hashes independently of Go for
// wallet/activity_test.go (SPEC §3.6): JavaScript's JSON.parse, the RFC 8785
// reference package `canonicalize` (by one of the RFC's authors) and
// node:crypto. It reads {"entries": ["<entry JSON as exported>", ...]} on
// stdin and writes {"results": [{"canonical": "...", "sha256": "..."}, ...]}:
// per entry, the canonical form of the entry without its hash member and
// the lower-case hex SHA-256 of its UTF-8 bytes.
//
// Install once: npm ci --prefix wallet/testdata/jcs

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { entries } = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const results = entries.map((text) => {
  const entry = JSON.parse(text);
  delete entry.hash;
  const canonical = canonicalize(entry);
  const sha256 = createHash('sha256').update(canonical, 'utf8').digest('hex');
  return { canonical, sha256 };
});
process.stdout.write(JSON.stringify({ results }));
