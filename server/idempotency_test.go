package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// keyed sends in as JSON with an Idempotency-Key header and returns the
// status and body.
func (h *harness) keyed(path, bearer, key string, in any) (int, []byte) {
	h.t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		h.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", h.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.IdempotencyKeyHeader, key)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, readAll(h.t, resp)
}

// bulk posts body to the bulk issuance route with issuerKey and returns
// its result lines.
func (h *harness) bulk(issuerKey string, body []byte) []api.BulkResult {
	h.t.Helper()
	resp := h.request("POST", "/v1/issuer/credentials:bulk", issuerKey, "application/x-ndjson", body)
	defer resp.Body.Close()
	var out []api.BulkResult
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var r api.BulkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestIdempotencyKeys (issue 13 item 4): an issuance, a bulk line and a
// share creation retried with the same Idempotency-Key get the first
// answer and make nothing twice; the same key with another request is 422
// (draft-ietf-httpapi-idempotency-key-header §2.7); keys are the caller's
// own.
func TestIdempotencyKeys(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	issue := api.IssueRequest{CitizenID: w.citizen, Type: credentials.HealthInsurance, Claims: healthClaims(testFullName),
		ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}
	countCredentials := func() int {
		var creds api.CredentialList
		h.call("GET", "/v1/me/credentials", w.token, nil, 200, &creds)
		return len(creds.Credentials)
	}
	before := countCredentials()

	t.Run("issuance", func(t *testing.T) {
		st1, first := h.keyed("/v1/issuer/credentials", w.issuerKey, "issue-0001", issue)
		st2, again := h.keyed("/v1/issuer/credentials", w.issuerKey, "issue-0001", issue)
		if st1 != 201 || st2 != 201 || !bytes.Equal(first, again) {
			t.Fatalf("first %d %s, retry %d %s; want the same 201 answer", st1, first, st2, again)
		}
		if n := countCredentials(); n != before+1 {
			t.Errorf("%d credentials after an issuance and its retry, want %d", n, before+1)
		}
		other := issue
		other.Claims = healthClaims("Someone Else")
		if st, body := h.keyed("/v1/issuer/credentials", w.issuerKey, "issue-0001", other); st != 422 || !bytes.Contains(body, []byte(api.CodeIdempotencyReused)) {
			t.Errorf("the key with another request: %d %s, want 422 %s", st, body, api.CodeIdempotencyReused)
		}
		// The header and the body must agree.
		withKey := issue
		withKey.IdempotencyKey = "another"
		if st, _ := h.keyed("/v1/issuer/credentials", w.issuerKey, "issue-0001", withKey); st != 400 {
			t.Errorf("header and body keys differ: %d, want 400", st)
		}
		if st, _ := h.keyed("/v1/issuer/credentials", w.issuerKey, strings.Repeat("k", 256), issue); st != 400 {
			t.Errorf("a key of 256 characters: %d, want 400", st)
		}
	})

	t.Run("concurrent retries", func(t *testing.T) {
		// Retries in flight at once (on PostgreSQL their transactions
		// overlap): one credential, every retry its answer.
		n := countCredentials()
		var wg sync.WaitGroup
		answers := make([][]byte, 6)
		for i := range answers {
			wg.Go(func() {
				st, body := h.keyed("/v1/issuer/credentials", w.issuerKey, "issue-together", issue)
				if st != 201 {
					t.Errorf("retry %d: %d %s", i, st, body)
				}
				answers[i] = body
			})
		}
		wg.Wait()
		for i := range answers {
			if !bytes.Equal(answers[i], answers[0]) {
				t.Errorf("retry %d answered %s, retry 0 %s", i, answers[i], answers[0])
			}
		}
		if c := countCredentials(); c != n+1 {
			t.Errorf("%d credentials after 6 concurrent retries of one, want %d", c, n+1)
		}
	})

	t.Run("bulk lines", func(t *testing.T) {
		var body bytes.Buffer
		for _, key := range []string{"bulk-1", "bulk-2"} {
			line := issue
			line.IdempotencyKey = key
			b, _ := json.Marshal(line)
			body.Write(append(b, '\n'))
		}
		results := func() []api.BulkResult { return h.bulk(w.issuerKey, body.Bytes()) }
		n := countCredentials()
		first, again := results(), results()
		if len(first) != 2 || len(again) != 2 || first[0].CredentialID == "" || first[0].CredentialID != again[0].CredentialID ||
			first[1].CredentialID != again[1].CredentialID || first[0].CredentialID == first[1].CredentialID {
			t.Fatalf("bulk then its retry: %+v / %+v", first, again)
		}
		if got := countCredentials(); got != n+2 {
			t.Errorf("%d credentials after a bulk of 2 and its retry, want %d", got, n+2)
		}
	})

	t.Run("one key twice in one bulk body", func(t *testing.T) {
		// The retry of a line inside the same batch gets the line's answer;
		// the key with another request fails alone; the other lines issue.
		keyed := issue
		keyed.IdempotencyKey = "bulk-twice"
		other := keyed
		other.Claims = healthClaims("Someone Else")
		var body bytes.Buffer
		for _, line := range []api.IssueRequest{issue, keyed, keyed, other} {
			b, _ := json.Marshal(line)
			body.Write(append(b, '\n'))
		}
		n := countCredentials()
		got := h.bulk(w.issuerKey, body.Bytes())
		if len(got) != 4 || got[0].CredentialID == "" || got[1].CredentialID == "" || got[1].CredentialID != got[2].CredentialID ||
			got[0].CredentialID == got[1].CredentialID || got[3].Error != api.CodeIdempotencyReused {
			t.Fatalf("a key twice in one body: %+v", got)
		}
		if c := countCredentials(); c != n+2 {
			t.Errorf("%d credentials after lines of which two are one, want %d", c, n+2)
		}
	})

	t.Run("share creation", func(t *testing.T) {
		share := api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}
		st1, first := h.keyed("/v1/me/shares", w.token, "share-1", share)
		st2, again := h.keyed("/v1/me/shares", w.token, "share-1", share)
		if st1 != 201 || st2 != 201 || !bytes.Equal(first, again) {
			t.Fatalf("first %d %s, retry %d %s; want the same 201 answer", st1, first, st2, again)
		}
		var shares api.ShareList
		h.call("GET", "/v1/me/shares", w.token, nil, 200, &shares)
		if len(shares.Shares) != 1 {
			t.Errorf("%d shares after a creation and its retry, want 1", len(shares.Shares))
		}
		// Another caller's key is its own: the issuer's "share-1" is not the holder's.
		if st, _ := h.keyed("/v1/issuer/credentials", w.issuerKey, "share-1", issue); st != 201 {
			t.Errorf("another caller reusing the key: %d, want 201", st)
		}
	})
}
