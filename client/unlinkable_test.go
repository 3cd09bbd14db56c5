package client_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestUnlinkablePresentations (issue 12 items 5–6, THREATS T38): a device
// with a key pool presents a copy of its own in each share, so two
// verifiers that each redeemed an age_over_18 share of the same citizen
// find nothing in common in their answers but the disclosed claim and what
// every holder of the type shares (issuer, type, rounded dates): not the
// issuer JWT, its signature, salts, digests, cnf key or status index. A
// revocation then sets both copies' entries.
func TestUnlinkablePresentations(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := client.New(st.url)
	admin := c.Admin(st.adminToken)
	issuer := mpsIssuer(t, c, admin)
	var verifiers []*client.Verifier
	for _, id := range []string{"shop-a", "shop-b"} {
		v, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: id, Name: "Shop " + id, Category: "shop",
			Claims: map[string][]string{credentials.NationalID: {"age_over_18"}}})
		if err != nil {
			t.Fatal(err)
		}
		verifiers = append(verifiers, c.Verifier(v.APIKey.Key))
	}
	holder := enrolled(t, c, admin, "Pooled phone")
	cred, err := issuer.Issue(ctx, nationalID(citizen, "Trần Thị Ẩn Danh"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := holder.RefillKeys(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pool.BatchSize != wallet.DefaultBatchSize || pool.Free+pool.Copies != pool.BatchSize || holder.Device().PoolSize() != pool.BatchSize {
		t.Fatalf("pool after refill = %+v, device holds %d keys; want a batch of %d", pool, holder.Device().PoolSize(), wallet.DefaultBatchSize)
	}
	waitCopies(t, holder, pool.BatchSize)

	// Two shares, each redeemed by another shop; a second apart, so that
	// not even the KB-JWT's iat or verified_at coincide.
	req := api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"age_over_18"}}}}
	var answers []*api.VerifyResponse
	var keys []string
	for i, v := range verifiers {
		if i > 0 {
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
		}
		created, err := holder.Share(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, created.ToSign[0].KeyThumbprint)
		share, err := holder.Approve(ctx, created)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(ctx, share.QRText)
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, got)
	}
	if keys[0] == keys[1] || holder.Device().PoolSize() != pool.BatchSize-2 {
		t.Errorf("shares signed with keys %q; the device holds %d keys, want the two spent", keys, holder.Device().PoolSize())
	}

	// What every holder of the type shares, read from the first answer.
	doc := answers[0].Documents[0]
	jwt := issuerJWT(t, doc.Presentation)
	common := map[string]bool{}
	for _, v := range []any{doc.Type, doc.Issuer.ID, doc.Issuer.Name, doc.Status, doc.HolderBinding, doc.KeyBinding.Aud,
		doc.IssuedAt.UTC().Format(api.TimeLayout), doc.ExpiresAt.UTC().Format(api.TimeLayout), answers[0].Result,
		jwt.header["alg"], jwt.header["typ"], jwt.header["kid"], jwt.payload["iss"], jwt.payload["vct"], jwt.payload["_sd_alg"],
		jwt.payload["iat"], jwt.payload["exp"], "EC", "P-256", "kb+jwt", "ES256", "age_over_18", true,
		jwt.payload["status"].(map[string]any)["status_list"].(map[string]any)["uri"]} {
		common[fmt.Sprint(v)] = true
	}
	for _, name := range []string{"iat", "exp"} {
		if n := int64(jwt.payload[name].(float64)); n%86400 != 0 {
			t.Errorf("%s %d is not rounded to a day", name, n)
		}
	}
	a, b := leaves(t, answers[0]), leaves(t, answers[1])
	for v, at := range a {
		if other, ok := b[v]; ok && !common[v] {
			t.Errorf("the two answers have %q in common (at %s and %s)", v, at, other)
		}
	}
	if t.Failed() {
		t.Logf("answer 1: %+v\nanswer 2: %+v", answers[0], answers[1])
	}

	// A revocation sets the entries of both copies.
	if _, err := issuer.SetStatus(ctx, cred.CredentialID, api.StatusRequest{Status: api.StatusRevoked}); err != nil {
		t.Fatal(err)
	}
	for i, ans := range answers {
		ref := issuerJWT(t, ans.Documents[0].Presentation).payload["status"].(map[string]any)["status_list"].(map[string]any)
		uri, idx := ref["uri"].(string), int(ref["idx"].(float64))
		var list int
		if _, err := fmt.Sscanf(uri[strings.LastIndex(uri, "/")+1:], "%d", &list); err != nil {
			t.Fatal(err)
		}
		tok, err := c.StatusList(ctx, "mps", list)
		if err != nil {
			t.Fatal(err)
		}
		claims := decodeSegment(t, strings.Split(tok, ".")[1])["status_list"].(map[string]any)
		sl, err := credentials.DecodeStatusList(int(claims["bits"].(float64)), claims["lst"].(string), 1<<24)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := sl.Get(idx); err != nil || v != credentials.StatusInvalid {
			t.Errorf("copy %d: status entry %d = %d, %v; want revoked", i+1, idx, v, err)
		}
	}
}

// waitCopies waits, at most 10 s, until the service holds n batch copies
// for the device (they are signed in the background).
func waitCopies(t *testing.T, h *client.Holder, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := h.KeyPool(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v.Copies == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch copies: %+v, want %d copies", v, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type decodedJWT struct{ header, payload map[string]any }

// issuerJWT decodes, unverified, the issuer-signed JWT of a presentation.
func issuerJWT(t *testing.T, presentation string) decodedJWT {
	t.Helper()
	parts := strings.Split(strings.Split(presentation, "~")[0], ".")
	if len(parts) != 3 {
		t.Fatalf("presentation %.40q… is not an SD-JWT", presentation)
	}
	return decodedJWT{decodeSegment(t, parts[0]), decodeSegment(t, parts[1])}
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// leaves is every value in an answer, by where it was first seen, down to
// the parts of its presentation: each JWT's header, payload and signature,
// and each disclosure's salt, name and value.
func leaves(t *testing.T, answer *api.VerifyResponse) map[string]string {
	t.Helper()
	b, err := json.Marshal(answer)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if strings.Contains(v, "~") { // an SD-JWT: its parts
				for i, part := range strings.Split(v, "~") {
					walk(fmt.Sprintf("%s~%d", path, i), part)
				}
				return
			}
			if parts := strings.Split(v, "."); len(parts) == 3 && !strings.ContainsAny(v, " :/") {
				if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil && len(h) > 0 && h[0] == '{' {
					walk(path+".header", decodeSegment(t, parts[0]))
					walk(path+".payload", decodeSegment(t, parts[1]))
					walk(path+".signature", parts[2])
					return
				}
			}
			if d, err := base64.RawURLEncoding.DecodeString(v); err == nil && len(d) > 0 && d[0] == '[' {
				var disclosure []any
				if json.Unmarshal(d, &disclosure) == nil {
					walk(path+".disclosure", disclosure)
				}
			}
			if _, seen := out[v]; !seen && v != "" {
				out[v] = path
			}
		default:
			if s := fmt.Sprint(v); !slices.Contains([]string{"", "<nil>"}, s) {
				if _, seen := out[s]; !seen {
					out[s] = path
				}
			}
		}
	}
	walk("answer", v)
	return out
}
