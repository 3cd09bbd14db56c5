package server_test

import (
	"cmp"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// A list, as the pages of issue 13 item 4 answer it: the page's items
// under the list's name, and next_cursor while more follow.
type list struct {
	method, path, bearer string
	body                 any    // the POST search's
	name                 string // the items' member
}

// with returns the list's path with query parameters q added.
func (l list) with(q url.Values) string {
	sep := "?"
	if strings.Contains(l.path, "?") {
		sep = "&"
	}
	if len(q) == 0 {
		return l.path
	}
	return l.path + sep + q.Encode()
}

// page reads one page: its items (each as its JSON) and next cursor,
// failing when next_cursor is present but empty.
func (h *harness) page(l list, q url.Values) ([]string, string) {
	h.t.Helper()
	var p map[string]jsontext.Value
	h.call(l.method, l.with(q), l.bearer, l.body, 200, &p)
	var items []jsontext.Value
	if err := json.Unmarshal(p[l.name], &items); err != nil || items == nil {
		h.t.Fatalf("%s: %q is not an array: %s (%v)", l.path, l.name, p[l.name], err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it)
	}
	next := ""
	if raw, ok := p["next_cursor"]; ok {
		if err := json.Unmarshal(raw, &next); err != nil || next == "" {
			h.t.Fatalf("%s: next_cursor %s: present, not a cursor", l.path, raw)
		}
	}
	return out, next
}

// walk reads every page of l, limit items a page, and checks that it
// walked each item of the whole list (one page of api.MaxLimit) once, in
// its order, in pages of limit but the last, which alone has no
// next_cursor. It returns the items.
func (h *harness) walk(l list, limit int) []string {
	h.t.Helper()
	all, next := h.page(l, url.Values{"limit": {fmt.Sprint(api.MaxLimit)}})
	if next != "" {
		h.t.Fatalf("%s: one page of %d items has a next_cursor", l.path, len(all))
	}
	var walked []string
	cursor, pages := "", 0
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		items, next := h.page(l, q)
		pages++
		walked = append(walked, items...)
		if next == "" {
			break
		}
		if len(items) != limit {
			h.t.Errorf("%s: page %d holds %d items of %d, and a next_cursor", l.path, pages, len(items), limit)
		}
		if pages > len(all)+1 {
			h.t.Fatalf("%s: more pages than items", l.path)
		}
		cursor = next
	}
	if !slices.Equal(walked, all) {
		h.t.Errorf("%s: pages of %d walked\n%v\nthe whole list is\n%v", l.path, limit, walked, all)
	}
	if want := max(1, (len(all)+limit-1)/limit); pages != want {
		h.t.Errorf("%s: %d items in %d pages of %d, want %d pages", l.path, len(all), pages, limit, want)
	}
	return walked
}

// ids picks the member id of each item.
func ids(t *testing.T, items []string, member string) []string {
	t.Helper()
	out := make([]string, len(items))
	for i, it := range items {
		var m map[string]any
		if err := json.Unmarshal([]byte(it), &m); err != nil {
			t.Fatal(err)
		}
		out[i], _ = m[member].(string)
	}
	return out
}

// pagedWorld is the world with more of everything than a page holds:
// issuers, verifiers and keys, the citizen's credentials (two issued in
// the same second), devices, shares and redemptions, and requests
// waiting for the citizen.
func pagedWorld(t *testing.T) (*harness, *world) {
	t.Helper()
	h := newHarness(t, func(c *server.Config) {
		c.RateLimits.SharesPerHolder = server.Limit{Rate: 100, Burst: 100}
	})
	w := h.setup()
	for _, id := range []string{"iss-a", "iss-b", "iss-c", "iss-d"} {
		h.call("POST", "/v1/admin/issuers", h.admin, api.CreateIssuerRequest{ID: id, Name: id, Types: []string{credentials.NationalID}}, 201, nil)
	}
	for _, id := range []string{"ver-a", "ver-b", "ver-c"} {
		h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{ID: id, Name: id, Category: "shop",
			Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}}, 201, nil)
	}
	for range 3 {
		h.call("POST", "/v1/admin/verifiers/"+w.verifierID+"/api-keys", h.admin, nil, 201, nil)
	}
	for i := range 7 {
		if i != 3 { // credentials 3 and 4 in the same second: a tie, broken by id
			h.clock.Advance(time.Second)
		}
		h.call("POST", "/v1/issuer/credentials", w.issuerKey, api.IssueRequest{CitizenID: w.citizen, Type: credentials.HealthInsurance,
			Claims: healthClaims(testFullName), ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}, 201, nil)
	}
	for range 2 {
		other := &world{citizen: w.citizen}
		other.enroll(h)
	}
	for i := range 5 {
		h.clock.Advance(time.Second)
		_, qrText := w.share(h, "full_name")
		if i < 3 {
			h.call("POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: qrText}, 200, nil)
		}
	}
	for range 3 {
		r := w.newRequest(h, "full_name")
		h.call("POST", "/v1/me/requests:resolve", w.token, api.ResolveRequest{QR: r.QRText}, 200, nil)
	}
	return h, w
}

// TestListsArePaged (issue 13 item 4): every list walked in pages smaller
// than it gives each item once, in the list's order, the last page alone
// without next_cursor; the items are those of the whole list in one page.
func TestListsArePaged(t *testing.T) {
	h, w := pagedWorld(t)
	admin := func(path, name string) list { return list{method: "GET", path: path, bearer: h.admin, name: name} }
	holder := func(path, name string) list { return list{method: "GET", path: path, bearer: w.token, name: name} }
	cases := []struct {
		list  list
		limit int
		min   int // items at least
	}{
		{admin("/v1/admin/issuers", "issuers"), 2, 5},
		{admin("/v1/admin/verifiers", "verifiers"), 3, 4},
		{admin("/v1/admin/external-issuers", "external_issuers"), 1, 0},
		{admin("/v1/admin/api-keys", "api_keys"), 2, 8},
		{admin("/v1/admin/api-keys?owner="+w.verifierID, "api_keys"), 2, 4},
		{holder("/v1/me/credentials", "credentials"), 3, 8},
		{holder("/v1/me/devices", "devices"), 2, 3},
		{holder("/v1/me/shares", "shares"), 2, 5},
		{holder("/v1/me/activity", "entries"), 4, 11},
		{holder("/v1/me/requests", "requests"), 2, 3},
		{list{method: "GET", path: "/v1/verifier/verifications", bearer: w.verifierKey, name: "entries"}, 2, 3},
		{list{method: "POST", path: "/v1/issuer/credentials:search", bearer: w.issuerKey, body: api.CredentialSearch{CitizenID: w.citizen},
			name: "credentials"}, 3, 8},
		{list{method: "GET", path: "/v1/issuer/credentials?status=valid", bearer: w.issuerKey, name: "credentials"}, 3, 8},
	}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.list.path, "/v1/"), func(t *testing.T) {
			items := h.walk(tc.list, tc.limit)
			if len(items) < tc.min {
				t.Errorf("%d items, want at least %d", len(items), tc.min)
			}
		})
	}

	// Orders: by id; newest first; the owner's keys only.
	issuers := ids(t, h.walk(admin("/v1/admin/issuers", "issuers"), 2), "issuer_id")
	if !slices.Equal(issuers, []string{"iss-a", "iss-b", "iss-c", "iss-d", "vss"}) {
		t.Errorf("issuers %v, want by id", issuers)
	}
	var shares []time.Time
	for _, it := range h.walk(holder("/v1/me/shares", "shares"), 2) {
		var s api.ShareView
		must(0, json.Unmarshal([]byte(it), &s))
		shares = append(shares, s.Created)
	}
	if !slices.IsSortedFunc(shares, func(a, b time.Time) int { return b.Compare(a) }) {
		t.Errorf("shares not newest first: %v", shares)
	}
	for _, it := range h.walk(admin("/v1/admin/api-keys?owner="+w.verifierID, "api_keys"), 2) {
		var k api.APIKeyView
		must(0, json.Unmarshal([]byte(it), &k))
		if k.Owner != w.verifierID {
			t.Errorf("another owner's key listed: %+v", k)
		}
	}
	var seqs []uint64
	for _, it := range h.walk(holder("/v1/me/activity", "entries"), 4) {
		var e api.ActivityEntry
		must(0, json.Unmarshal([]byte(it), &e))
		seqs = append(seqs, e.Seq)
	}
	if !slices.IsSortedFunc(seqs, func(a, b uint64) int { return cmp.Compare(b, a) }) {
		t.Errorf("activity not newest first: %v", seqs)
	}
}

// TestIssuerListsItsCredentialsByStatus (issue 13 item 4): an issuer's
// credentials of one status, newest first with a tie broken by id, in
// pages; a status change moves a credential to its new status's list;
// another issuer lists none of them; the status is required.
func TestIssuerListsItsCredentialsByStatus(t *testing.T) {
	h, w := pagedWorld(t)
	search := list{method: "POST", path: "/v1/issuer/credentials:search", bearer: w.issuerKey, body: api.CredentialSearch{CitizenID: w.citizen}, name: "credentials"}
	var all []api.IssuedCredential
	for _, it := range h.walk(search, 100) {
		var c api.IssuedCredential
		must(0, json.Unmarshal([]byte(it), &c))
		all = append(all, c)
	}
	if len(all) != 8 {
		t.Fatalf("%d credentials issued, want 8", len(all))
	}
	set := func(c api.IssuedCredential, status string) {
		h.call("POST", "/v1/issuer/credentials/"+c.CredentialID+"/status", w.issuerKey, api.StatusRequest{Status: status}, 200, nil)
	}
	set(all[1], api.StatusRevoked)
	set(all[4], api.StatusRevoked)
	set(all[6], api.StatusSuspended)
	set(all[6], api.StatusValid)
	set(all[2], api.StatusSuspended)
	byStatus := map[string][]string{}
	statusOf := map[string]string{all[1].CredentialID: api.StatusRevoked, all[4].CredentialID: api.StatusRevoked, all[2].CredentialID: api.StatusSuspended}
	newest := slices.Clone(all)
	slices.SortFunc(newest, func(a, b api.IssuedCredential) int {
		return cmp.Or(b.IssuedAt.Compare(a.IssuedAt), cmp.Compare(b.CredentialID, a.CredentialID))
	})
	for _, c := range newest {
		st := cmp.Or(statusOf[c.CredentialID], api.StatusValid)
		byStatus[st] = append(byStatus[st], c.CredentialID)
	}
	for _, st := range []string{api.StatusValid, api.StatusRevoked, api.StatusSuspended} {
		l := list{method: "GET", path: "/v1/issuer/credentials?status=" + st, bearer: w.issuerKey, name: "credentials"}
		items := h.walk(l, 2)
		if got := ids(t, items, "credential_id"); !slices.Equal(got, byStatus[st]) {
			t.Errorf("%s: listed %v, want newest first %v", st, got, byStatus[st])
		}
		for _, it := range items {
			if !strings.Contains(it, `"status":"`+st+`"`) || strings.Contains(it, testFullName) {
				t.Errorf("%s: listed %s", st, it)
			}
		}
	}
	// Another issuer has none of them.
	var ik api.NewAPIKey
	h.call("POST", "/v1/admin/issuers/iss-a/api-keys", h.admin, nil, 201, &ik)
	var none api.IssuedCredentialList
	_, raw := h.call("GET", "/v1/issuer/credentials?status=valid", ik.Key, nil, 200, &none)
	if len(none.Credentials) != 0 || strings.Contains(string(raw), "next_cursor") {
		t.Errorf("another issuer's list: %s", raw)
	}
	for _, q := range []string{"", "?status=", "?status=VALID", "?status=expired", "?status=valid&limit=0"} {
		e := wantError(t, h.request("GET", "/v1/issuer/credentials"+q, w.issuerKey, "", nil), 400, "invalid_request")
		if !strings.Contains(e.Description, "status") && !strings.Contains(e.Description, "limit") {
			t.Errorf("%q: %q", q, e.Description)
		}
	}
	wantError(t, h.request("GET", "/v1/issuer/credentials?status=valid", w.verifierKey, "", nil), 403, "forbidden")
}

// TestCursorsAreBound (issue 13 item 4): a cursor is good only for the
// list, the caller and the filters it came from, unaltered; anything
// else, and a limit out of 1 to 1000, is 400 invalid_request, before the
// store is asked.
func TestCursorsAreBound(t *testing.T) {
	h, w := pagedWorld(t)
	first := func(l list) string {
		t.Helper()
		_, next := h.page(l, url.Values{"limit": {"1"}})
		if next == "" {
			t.Fatalf("%s: no next_cursor after a page of 1", l.path)
		}
		return next
	}
	shares := list{method: "GET", path: "/v1/me/shares", bearer: w.token, name: "shares"}
	cursor := first(shares)
	refused := func(what, path, bearer string, body any) {
		t.Helper()
		method := "GET"
		if body != nil {
			method = "POST"
		}
		var b []byte
		ct := ""
		if body != nil {
			b, ct = mustJSON(t, body), "application/json"
		}
		e := wantError(t, h.request(method, path, bearer, ct, b), 400, "invalid_request")
		if !strings.Contains(e.Description, "cursor") && !strings.Contains(e.Description, "limit") {
			t.Errorf("%s: %q says neither cursor nor limit", what, e.Description)
		}
	}
	q := func(c string) string { return url.Values{"cursor": {c}}.Encode() }

	// Altered: a character of its middle, its tag, its version; cut; padded.
	mid := len(cursor) / 2
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for what, c := range map[string]string{
		"a flipped character": flip(cursor, mid), "a flipped tag": flip(cursor, len(cursor)-3), "another version": flip(cursor, 0),
		"cut": cursor[:len(cursor)-4], "short": "AQ", "not base64url": "!!!!", "padded": cursor + "==",
		"too long": strings.Repeat("A", api.MaxCursor+1),
	} {
		refused(what, "/v1/me/shares?"+q(c), w.token, nil)
	}
	// Another list of the same holder, another holder's same list.
	refused("a shares cursor on the activity", "/v1/me/activity?"+q(cursor), w.token, nil)
	refused("a shares cursor on the devices", "/v1/me/devices?"+q(cursor), w.token, nil)
	other := &world{citizen: "111122223333"}
	other.enroll(h)
	refused("another holder's cursor", "/v1/me/shares?"+q(cursor), other.token, nil)
	// Another filter: another status, another owner, another citizen.
	valid := first(list{method: "GET", path: "/v1/issuer/credentials?status=valid", bearer: w.issuerKey, name: "credentials"})
	refused("a valid cursor for revoked", "/v1/issuer/credentials?status=revoked&"+q(valid), w.issuerKey, nil)
	keys := first(list{method: "GET", path: "/v1/admin/api-keys?owner=" + w.verifierID, bearer: h.admin, name: "api_keys"})
	refused("an owner's cursor for all keys", "/v1/admin/api-keys?"+q(keys), h.admin, nil)
	found := first(list{method: "POST", path: "/v1/issuer/credentials:search", bearer: w.issuerKey, body: api.CredentialSearch{CitizenID: w.citizen}, name: "credentials"})
	refused("a citizen's cursor for another citizen", "/v1/issuer/credentials:search?"+q(found), w.issuerKey, api.CredentialSearch{CitizenID: other.citizen})
	// The same cursor still reads its own list's next page.
	h.call("GET", "/v1/me/shares?"+q(cursor), w.token, nil, 200, nil)
	h.call("GET", "/v1/me/shares?cursor=", w.token, nil, 200, nil) // empty: the first page

	// Limits: 1 to 1000, integers.
	for _, l := range []string{"0", "1001", "-1", "abc", "1.5", "", "01000", "1e2", " 5"} {
		for _, path := range []string{"/v1/admin/issuers", "/v1/me/activity", "/v1/verifier/verifications", "/v1/issuer/credentials?status=valid"} {
			bearer := map[string]string{"/v1/admin/issuers": h.admin, "/v1/me/activity": w.token, "/v1/verifier/verifications": w.verifierKey}[path]
			sep := "?"
			if strings.Contains(path, "?") {
				sep, bearer = "&", w.issuerKey
			}
			refused("limit "+l, path+sep+url.Values{"limit": {l}}.Encode(), bearer, nil)
		}
	}
	h.call("GET", "/v1/me/activity?limit=1000", w.token, nil, 200, nil)
	h.call("GET", "/v1/me/activity?limit=1", w.token, nil, 200, nil)

	// The export is the whole chain: no page of it.
	refused("an export with a limit", "/v1/me/activity?export=1&limit=5", w.token, nil)
	refused("an export with a cursor", "/v1/me/activity?export=1&"+q(first(list{method: "GET", path: "/v1/me/activity", bearer: w.token, name: "entries"})), w.token, nil)
	var export api.ActivityResponse
	_, raw := h.call("GET", "/v1/me/activity?export=1", w.token, nil, 200, &export)
	if export.ChainValid == nil || !*export.ChainValid || export.Checkpoint == "" || strings.Contains(string(raw), "next_cursor") {
		t.Errorf("export: valid %v, checkpoint %q, %d entries", export.ChainValid, export.Checkpoint, len(export.Entries))
	}
	paged := h.walk(list{method: "GET", path: "/v1/me/activity", bearer: w.token, name: "entries"}, 5)
	if len(paged) != len(export.Entries) {
		t.Errorf("%d entries in pages, %d in the export", len(paged), len(export.Entries))
	}
}

// TestListStorageFailureIsNotAnEmptyPage: a list whose store fails, on its
// first page or on one after a cursor, is 503 storage_unavailable, never
// an empty page or the end of the list (SPEC §5).
func TestListStorageFailureIsNotAnEmptyPage(t *testing.T) {
	store := &failingStore{Store: servicetest.Open(t), lists: true, fails: func(l wallet.Lookup) bool {
		return l.Kind == wallet.Shares.Kind() || l.Kind == wallet.Credentials.Kind() && l.Index == "issuer"
	}}
	h := newHarnessOver(t, store)
	w := h.setup()
	w.share(h, "full_name")
	w.share(h, "full_name")
	_, next := h.page(list{method: "GET", path: "/v1/me/shares", bearer: w.token, name: "shares"}, url.Values{"limit": {"1"}})
	store.armed.Store(true)
	for _, c := range []struct{ path, bearer string }{
		{"/v1/me/shares", w.token},
		{"/v1/me/shares?limit=1&cursor=" + url.QueryEscape(next), w.token},
		{"/v1/issuer/credentials?status=valid", w.issuerKey},
	} {
		var e apiError
		h.call("GET", c.path, c.bearer, nil, 503, &e)
		if e.Error != string(api.CodeStorageUnavailable) {
			t.Errorf("%s: %q, want storage_unavailable", c.path, e.Error)
		}
	}
	store.armed.Store(false)
	h.call("GET", "/v1/me/shares?limit=1&cursor="+url.QueryEscape(next), w.token, nil, 200, nil)
}

// TestOpenAPIListsArePaged: in docs/openapi.json no answer is a bare
// array, and every answer with a next_cursor is of an operation that
// takes limit and cursor, and the other way round (issue 13 item 4).
func TestOpenAPIListsArePaged(t *testing.T) {
	raw, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Ref        string                    `json:"$ref"`
		Type       jsontext.Value            `json:"type"` // a name, or a list of them (OpenAPI 3.1)
		Properties map[string]jsontext.Value `json:"properties"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref string `json:"$ref"`
			} `json:"parameters"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema schema `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	lists := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			s := op.Responses["200"].Content["application/json"].Schema
			if string(s.Type) == `"array"` {
				t.Errorf("%s %s answers a bare array", method, path)
			}
			_, paged := doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")].Properties["next_cursor"]
			var params []string
			for _, p := range op.Parameters {
				params = append(params, p.Ref)
			}
			takes := slices.Contains(params, "#/components/parameters/Limit") && slices.Contains(params, "#/components/parameters/Cursor")
			if paged != takes {
				t.Errorf("%s %s: next_cursor in its answer %v, limit and cursor among its parameters %v", method, path, paged, takes)
			}
			if paged {
				lists++
			}
		}
	}
	if lists < 12 {
		t.Errorf("%d paged lists described, want the 12 of the API", lists)
	}
}
