import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ERROR_CODES,
  REQUEST_STATUSES,
  type CreateRequestRequest,
  type CreateRequestResponse,
  type Document,
  type ErrorBody,
  type KeyBinding,
  type OfflineUploadResult,
  type OfflineVerification,
  type OfflineVerifications,
  type Party,
  type RequestResult,
  type Verification,
  type VerificationsResponse,
  type VerifyRequest,
  type VerifyResponse,
} from "../src/index.js";

// The kit's hand-written types held to docs/openapi.json: for each schema
// the kit covers, the compiler checks that the table below names every
// member of the interface and whether it is required (an optional member
// is "optional"), and this test checks that the schema has exactly those
// members, required alike.

type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type Members<T> = { [K in keyof T]-?: K extends RequiredKeys<T> ? "required" : "optional" };

const covered: {
  Party: Members<Party>;
  VerifyRequest: Members<VerifyRequest>;
  KeyBinding: Members<KeyBinding>;
  Document: Members<Document>;
  VerifyResponse: Members<VerifyResponse>;
  Verification: Members<Verification>;
  VerificationsResponse: Members<VerificationsResponse>;
  CreateRequestRequest: Members<CreateRequestRequest>;
  CreateRequestResponse: Members<CreateRequestResponse>;
  RequestResult: Members<RequestResult>;
  OfflineVerification: Members<OfflineVerification>;
  OfflineVerifications: Members<OfflineVerifications>;
  OfflineUploadResult: Members<OfflineUploadResult>;
  Error: Members<ErrorBody>;
} = {
  Party: { id: "required", name: "required" },
  VerifyRequest: { qr: "required" },
  KeyBinding: { aud: "required", nonce: "required" },
  Document: {
    type: "required",
    issuer: "required",
    issued_at: "required",
    expires_at: "required",
    status: "required",
    holder_binding: "required",
    key_binding: "required",
    claims: "required",
    presentation: "required",
  },
  VerifyResponse: { result: "required", share_id: "required", verified_at: "required", verifier: "required", documents: "required" },
  Verification: {
    seq: "required",
    verifier_id: "required",
    at: "required",
    share_id: "optional",
    request_id: "optional",
    result: "required",
    reason: "optional",
    types: "optional",
    claims: "optional",
  },
  VerificationsResponse: { entries: "required", next_cursor: "optional" },
  CreateRequestRequest: {
    claims: "optional",
    purpose: "required",
    ttl_seconds: "optional",
    presence: "optional",
    protocol: "optional",
    dcql_query: "optional",
    client_id_prefix: "optional",
    response_mode: "optional",
  },
  CreateRequestResponse: {
    request_id: "required",
    status: "required",
    qr_text: "optional",
    expires_at: "required",
    nonce: "required",
    haip_link: "optional",
    client_id: "optional",
    request_uri: "optional",
  },
  RequestResult: { request_id: "required", status: "required", expires_at: "required", nonce: "required", result: "optional" },
  OfflineVerification: { cti: "required", verified_at: "required", result: "required", type: "optional" },
  OfflineVerifications: { verifications: "required" },
  OfflineUploadResult: { accepted: "required", flagged: "required" },
  Error: { error: "required", error_description: "required", reason: "optional" },
};

interface Schema {
  properties?: Record<string, { enum?: string[] }>;
  required?: string[];
  enum?: string[];
}

const openapi = JSON.parse(readFileSync(fileURLToPath(new URL("../../../../docs/openapi.json", import.meta.url)), "utf8")) as {
  components: { schemas: Record<string, Schema> };
};

test("the kit's types have exactly the members of their docs/openapi.json schemas, required alike", () => {
  for (const [name, members] of Object.entries(covered)) {
    const schema = openapi.components.schemas[name];
    assert.ok(schema, `docs/openapi.json has no schema ${name}`);
    assert.deepEqual(Object.keys(members).sort(), Object.keys(schema.properties ?? {}).sort(), `${name}: members`);
    const required = Object.entries(members)
      .filter(([, v]) => v === "required")
      .map(([k]) => k)
      .sort();
    assert.deepEqual(required, [...(schema.required ?? [])].sort(), `${name}: required members`);
  }
});

test("the kit's error codes and request states are docs/openapi.json's", () => {
  assert.deepEqual([...ERROR_CODES], openapi.components.schemas.Error?.properties?.error?.enum);
  assert.deepEqual([...REQUEST_STATUSES], openapi.components.schemas.RequestStatus?.enum);
});
