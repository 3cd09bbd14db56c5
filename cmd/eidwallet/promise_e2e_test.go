package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/go-json-experiment/json"
)

// promise is one server, started through run(), for the tests of the
// service's promise to a citizen (issue 8): the verifier gets exactly what
// was approved, and every revocation takes effect at once.
type promise struct {
	*e2e
	pharmacy, bank *client.Verifier
	phone, tablet  *client.Holder // two devices of citizen A
	nationalID     string         // A's identity card
}

const citizenC = "001090077003"

func newPromise(t *testing.T) *promise {
	t.Helper()
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, &syncBuffer{})
	t.Cleanup(srv.stop)
	e := &e2e{t: t, ctx: context.Background(), c: client.New(srv.url), dataDir: dataDir}
	e.admin = e.c.Admin(e.adminToken())
	e.issuers = map[string]*client.Issuer{}
	for id, typ := range map[string]string{"mps": "national_id", "vss": "health_insurance"} {
		_, err := e.admin.CreateIssuer(e.ctx, api.CreateIssuerRequest{ID: id, Name: strings.ToUpper(id), Types: []string{typ}})
		e.must(err)
		k, err := e.admin.CreateIssuerAPIKey(e.ctx, id)
		e.must(err)
		e.issuers[typ] = e.c.Issuer(k.Key)
	}
	p := &promise{e2e: e}
	p.pharmacy = p.verifier("pharmacy", map[string][]string{"national_id": {"age_over_18"}})
	p.bank = p.verifier("bank", map[string][]string{"national_id": {"full_name", "id_number", "age_over_18", "birth_date"},
		"health_insurance": {"card_number"}})
	r, err := e.issuers["national_id"].Issue(e.ctx, api.IssueRequest{CitizenID: citizenA, Type: "national_id",
		Claims: claimsA["national_id"], ExpiresAt: time.Now().AddDate(5, 0, 0)})
	e.must(err)
	p.nationalID = r.CredentialID
	p.phone, p.tablet = e.enrol(citizenA, "phone"), e.enrol(citizenA, "tablet")
	return p
}

func (p *promise) verifier(id string, claims map[string][]string) *client.Verifier {
	v, err := p.admin.CreateVerifier(p.ctx, api.CreateVerifierRequest{ID: id, Name: id, Category: "retail", Claims: claims})
	p.must(err)
	return p.c.Verifier(v.APIKey.Key)
}

func (p *promise) idItem(claims ...string) []api.ShareRequestItem {
	return []api.ShareRequestItem{{CredentialID: p.nationalID, Claims: claims}}
}

// approveRaw posts kb_jwts as they are to a share's approve route, the way
// a compromised app could.
func (p *promise) approveRaw(h *client.Holder, shareID string, kbs []string) error {
	return p.postKBs(h, "/v1/me/shares/"+shareID+"/approve", kbs)
}

func (p *promise) postKBs(h *client.Holder, path string, kbs []string) error {
	tok, err := h.AccessToken(p.ctx)
	p.must(err)
	body, _ := json.Marshal(api.ApproveRequest{KBJWTs: kbs})
	req, _ := http.NewRequestWithContext(p.ctx, http.MethodPost, p.c.BaseURL()+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	p.must(err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var answer struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	_ = json.UnmarshalRead(resp.Body, &answer)
	return &client.Error{Status: resp.StatusCode, Code: api.Code(answer.Error), Reason: answer.Reason}
}

// smuggle is what a compromised app could send as item's KB-JWT: the
// id_number disclosure, harvested from another share, slipped in front of
// a KB-JWT whose sd_hash covers it (THREATS T32).
func (p *promise) smuggle(item api.ToSign) string {
	harvest, err := p.phone.Share(p.ctx, api.ShareRequest{Items: p.idItem("id_number")})
	p.must(err)
	extra := strings.TrimSuffix(harvest.ToSign[0].Presentation, "~")
	extra = extra[strings.LastIndexByte(extra, '~')+1:] + "~"
	item.Presentation += extra
	item.SDHash = credentials.SDHash(item.Presentation)
	kb, err := p.phone.Device().SignKB(item, time.Now())
	p.must(err)
	return extra + kb
}

// activity lists the entries of a holder's activity log, newest first.
func (p *promise) activity(h *client.Holder) []*api.ActivityEntry {
	act, err := h.Activity(p.ctx)
	p.must(err)
	return act.Entries
}

func TestApprovedIsExactlyWhatTheVerifierGets(t *testing.T) {
	p := newPromise(t)

	// Item 1 (THREATS T32): a disclosure harvested from another share and
	// slipped in front of the KB-JWT, whose sd_hash covers it.
	t.Run("extra disclosures in kb_jwts are refused", func(t *testing.T) {
		sh, err := p.phone.Share(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		err = p.approveRaw(p.phone, sh.ShareID, []string{p.smuggle(sh.ToSign[0])})
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, string(credentials.ReasonKBInvalid))
		// A KB-JWT over the prepared presentation still approves it, and
		// the verifier, the share and both logs name the same claims.
		view, err := p.phone.Approve(p.ctx, sh)
		p.must(err)
		res, err := p.pharmacy.Verify(p.ctx, view.QRText)
		p.must(err)
		if got := keys(res.Documents[0].Claims); !slices.Equal(got, []string{"age_over_18"}) {
			t.Errorf("verifier got %v, want [age_over_18]", got)
		}
		v, err := credentials.Verify(res.Documents[0].Presentation, p.trust(), credentials.VerifyOptions{Now: time.Now(), RequireKB: true,
			Audience: res.Documents[0].KeyBinding.Aud, Nonce: res.Documents[0].KeyBinding.Nonce})
		p.must(err)
		if !slices.Equal(v.Disclosed, []string{"age_over_18"}) {
			t.Errorf("presentation discloses %v", v.Disclosed)
		}
		for _, e := range p.activity(p.phone) {
			if e.ShareID == sh.ShareID && !slices.Equal(e.Claims, []string{"national_id.age_over_18"}) {
				t.Errorf("activity %s names %v", e.Event, e.Claims)
			}
		}
		log, err := p.pharmacy.Verifications(p.ctx, 10)
		p.must(err)
		if len(log.Entries) == 0 || !slices.Equal(log.Entries[0].Claims, []string{"national_id.age_over_18"}) {
			t.Errorf("verifier log: %+v", log.Entries)
		}
	})

	// Item 1 on the request path: the same smuggling would also get past
	// the verifier's registration, which covers only age_over_18.
	t.Run("extra disclosures in a request answer are refused", func(t *testing.T) {
		created, err := p.pharmacy.CreateRequest(p.ctx, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "age check"})
		p.must(err)
		view, err := p.phone.Resolve(p.ctx, created.QRText)
		p.must(err)
		prepared, err := p.phone.PrepareRequest(p.ctx, view.RequestID, api.PrepareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		err = p.postKBs(p.phone, "/v1/me/requests/"+view.RequestID+"/approve", []string{p.smuggle(prepared.ToSign[0])})
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, string(credentials.ReasonKBInvalid))
		if _, err := p.phone.ApproveRequest(p.ctx, prepared); err != nil {
			t.Fatal(err)
		}
		res, err := p.pharmacy.Request(p.ctx, view.RequestID, 0, "")
		p.must(err)
		if got := keys(res.Result.Documents[0].Claims); !slices.Equal(got, []string{"age_over_18"}) {
			t.Errorf("the verifier got %v, want [age_over_18]", got)
		}
	})

	// SPEC §3.7, THREATS T35: an unbound share is redeemable only by a
	// verifier registered for every claim in it, and the consent screen
	// says which.
	t.Run("a verifier not registered for a claim cannot redeem", func(t *testing.T) {
		created, err := p.phone.Share(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18", "id_number")})
		p.must(err)
		if ids := partyIDs(created.RedeemableBy); !slices.Equal(ids, []string{"bank"}) {
			t.Errorf("redeemable_by = %v, want [bank]", ids)
		}
		view, err := p.phone.Approve(p.ctx, created)
		p.must(err)
		_, err = p.pharmacy.Verify(p.ctx, view.QRText)
		wantStatus(t, err, http.StatusForbidden, api.CodeForbidden, api.ReasonClaimsNotRegistered)
		refused := false
		for _, e := range p.activity(p.phone) {
			if e.Event == api.EventShareRefused && e.ShareID == created.ShareID && e.VerifierID == "pharmacy" &&
				e.Outcome == api.ReasonClaimsNotRegistered && slices.Equal(e.Claims, []string{"national_id.age_over_18", "national_id.id_number"}) {
				refused = true
			}
		}
		if !refused {
			t.Errorf("the holder's activity does not record the refused attempt: %+v", p.activity(p.phone))
		}
		// The pharmacy's own log tells it nothing of what it was refused:
		// not the share, not the kinds of document.
		log, err := p.pharmacy.Verifications(p.ctx, 0)
		p.must(err)
		for _, e := range log.Entries {
			if e.Reason == api.ReasonClaimsNotRegistered && (e.ShareID != "" || len(e.Types) > 0 || len(e.Claims) > 0) {
				t.Errorf("the refused verifier's log tells of the share: %+v", e)
			}
		}
		// Not consumed: the bank, registered for both, redeems it.
		if _, err := p.bank.Verify(p.ctx, view.QRText); err != nil {
			t.Fatalf("bank after the pharmacy's refused attempt: %v", err)
		}
		only18, err := p.phone.Share(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		if ids := partyIDs(only18.RedeemableBy); !slices.Equal(ids, []string{"bank", "pharmacy"}) {
			t.Errorf("redeemable_by = %v, want [bank pharmacy]", ids)
		}
		// Made for the pharmacy, the share does not widen its registration:
		// refused when it is made, before anything is signed.
		_, err = p.phone.Share(p.ctx, api.ShareRequest{VerifierID: "pharmacy", Items: p.idItem("age_over_18", "id_number")})
		wantStatus(t, err, http.StatusForbidden, api.CodeForbidden, api.ReasonClaimsNotRegistered)
	})

	// Item 8 (SPEC §6): nonces and jti are single-use values kept only as
	// keyed hashes.
	t.Run("nonces and jti are not stored in clear", func(t *testing.T) {
		created, err := p.phone.Share(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		_, err = p.phone.Approve(p.ctx, created)
		p.must(err)
		req, err := p.bank.CreateRequest(p.ctx, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"full_name"}}, Purpose: "account"})
		p.must(err)
		assertion, err := p.phone.Device().SignAssertion(p.c.TokenEndpoint(), time.Now())
		p.must(err)
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
		resp, err := http.PostForm(p.c.TokenEndpoint(), form)
		p.must(err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token: %d", resp.StatusCode)
		}
		var claims struct {
			Jti string `json:"jti"`
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(assertion, ".")[1])
		p.must(json.Unmarshal(payload, &claims))
		raw, err := os.ReadFile(filepath.Join(p.dataDir, "eidwallet.db"))
		p.must(err)
		for name, v := range map[string]string{"share nonce": created.ToSign[0].Nonce, "request nonce": req.Nonce, "jti": claims.Jti} {
			if v == "" || bytes.Contains(raw, []byte(v)) {
				t.Errorf("the bbolt file holds the %s %q in clear", name, v)
			}
		}
	})
}

func partyIDs(ps []api.VerifierParty) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids
}

// trust is the hosted issuers' keys as a verifier would fetch them.
func (p *promise) trust() *credentials.TrustStore {
	ts := credentials.NewTrustStore()
	for _, id := range []string{"mps", "vss"} {
		jwks, err := p.c.IssuerJWKS(p.ctx, id)
		p.must(err)
		keys, err := credentials.ParseJWKS(jwks)
		p.must(err)
		ts.AddIssuer(p.c.BaseURL()+"/issuers/"+id, keys)
	}
	return ts
}

func TestEveryRevocationTakesEffectAtOnce(t *testing.T) {
	p := newPromise(t)

	// Items 2 and 3 (THREATS T33, T34).
	t.Run("a revoked device's shares and approvals", func(t *testing.T) {
		approved, err := p.tablet.ShareAndApprove(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		pending, err := p.tablet.Share(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		// The tablet's KB-JWT is signed now, while it is still enrolled.
		kb, err := p.tablet.Device().SignKB(pending.ToSign[0], time.Now())
		p.must(err)
		devices, err := p.phone.Devices(p.ctx)
		p.must(err)
		for _, d := range devices {
			if !d.Current {
				p.must(p.phone.RevokeDevice(p.ctx, d.ID))
			}
		}
		_, err = p.pharmacy.Verify(p.ctx, approved.QRText)
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, api.ReasonDeviceRevoked)
		// The revoked tablet's signature, sent with the phone's token.
		err = p.approveRaw(p.phone, pending.ShareID, []string{kb})
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, string(credentials.ReasonKBInvalid))
		// The phone's own shares still work.
		own, err := p.phone.ShareAndApprove(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		if _, err := p.pharmacy.Verify(p.ctx, own.QRText); err != nil {
			t.Fatalf("the phone's share after the tablet's revocation: %v", err)
		}
	})

	// A request answer is handed out again and again (poll, events,
	// webhook): each time it is re-checked like a redemption (SPEC §3.7).
	t.Run("a request answer of a revoked device", func(t *testing.T) {
		created, err := p.pharmacy.CreateRequest(p.ctx, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "age check"})
		p.must(err)
		view, err := p.phone.Resolve(p.ctx, created.QRText)
		p.must(err)
		if _, err := p.phone.AnswerRequest(p.ctx, view, p.idItem("age_over_18")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.pharmacy.Request(p.ctx, view.RequestID, 0, ""); err != nil {
			t.Fatalf("the answer before the revocation: %v", err)
		}
		code, err := p.admin.CreateActivationCode(p.ctx, citizenA)
		p.must(err)
		dev, err := client.NewDevice("new phone")
		p.must(err)
		other := p.c.Holder(dev)
		_, err = other.Enroll(p.ctx, citizenA, code.Code)
		p.must(err)
		p.must(other.RevokeDevice(p.ctx, p.phone.Device().ID))
		_, err = p.pharmacy.Request(p.ctx, view.RequestID, 0, "")
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, api.ReasonDeviceRevoked)
		p.phone = other
	})

	// Item 4 (THREATS T33): a retired key and a retired issuer.
	t.Run("a retired issuer key", func(t *testing.T) {
		sh, err := p.phone.ShareAndApprove(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		is, err := p.admin.RotateIssuerKey(p.ctx, "mps")
		p.must(err)
		_, err = p.admin.RetireIssuerKey(p.ctx, "mps", is.Keys[0].Kid)
		p.must(err)
		_, err = p.pharmacy.Verify(p.ctx, sh.QRText)
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, string(credentials.ReasonUntrustedIssuer))
		// The citizen's copy signed by the retired key is re-issued with
		// the active one when next shared: rotation strands nobody.
		again, err := p.phone.ShareAndApprove(p.ctx, api.ShareRequest{Items: p.idItem("age_over_18")})
		p.must(err)
		res, err := p.pharmacy.Verify(p.ctx, again.QRText)
		p.must(err)
		if _, err := credentials.Verify(res.Documents[0].Presentation, p.trust(), credentials.VerifyOptions{Now: time.Now(), RequireKB: true,
			Audience: res.Documents[0].KeyBinding.Aud, Nonce: res.Documents[0].KeyBinding.Nonce}); err != nil {
			t.Errorf("the re-issued copy does not verify with the published JWKS: %v", err)
		}
	})

	t.Run("a retired issuer", func(t *testing.T) {
		card, err := p.issuers["health_insurance"].Issue(p.ctx, api.IssueRequest{CitizenID: citizenA, Type: "health_insurance",
			Claims: claimsA["health_insurance"], ExpiresAt: time.Now().AddDate(1, 0, 0)})
		p.must(err)
		sh, err := p.phone.ShareAndApprove(p.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: card.CredentialID, Claims: []string{"card_number"}}}})
		p.must(err)
		if _, err := p.admin.RetireIssuer(p.ctx, "vss"); err != nil {
			t.Fatal(err)
		}
		_, err = p.bank.Verify(p.ctx, sh.QRText)
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, string(credentials.ReasonUntrustedIssuer))
		_, err = p.phone.Share(p.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: card.CredentialID, Claims: []string{"card_number"}}}})
		wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, string(credentials.ReasonUntrustedIssuer))
		_, err = p.issuers["health_insurance"].Issue(p.ctx, api.IssueRequest{CitizenID: citizenA, Type: "health_insurance",
			Claims: claimsA["health_insurance"], ExpiresAt: time.Now().AddDate(1, 0, 0)})
		wantStatus(t, err, http.StatusForbidden, api.CodeForbidden, "")
		jwks, err := p.c.IssuerJWKS(p.ctx, "vss")
		p.must(err)
		var set struct {
			Keys []any `json:"keys"`
		}
		if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 0 {
			t.Errorf("a retired issuer's JWKS: %s (%v)", jwks, err)
		}
	})

	// Item 5: enrolment binds only what is valid and lists the rest.
	t.Run("enrolment skips expired, revoked and suspended credentials", func(t *testing.T) {
		nid := p.issuers["national_id"]
		var want []api.SkippedCredential
		for _, status := range []string{"revoked", "suspended", "expired"} {
			until := time.Now().AddDate(1, 0, 0)
			if status == "expired" {
				until = time.Now().Add(1500 * time.Millisecond)
			}
			r, err := nid.Issue(p.ctx, api.IssueRequest{CitizenID: citizenC, Type: "national_id", Claims: claimsC(), ExpiresAt: until})
			p.must(err)
			if status != "expired" {
				_, err = nid.SetStatus(p.ctx, r.CredentialID, api.StatusRequest{Status: status})
				p.must(err)
			}
			want = append(want, api.SkippedCredential{CredentialID: r.CredentialID, Type: "national_id", Reason: "credential_" + status})
		}
		valid, err := nid.Issue(p.ctx, api.IssueRequest{CitizenID: citizenC, Type: "national_id", Claims: claimsC(), ExpiresAt: time.Now().AddDate(1, 0, 0)})
		p.must(err)
		time.Sleep(1600 * time.Millisecond)
		code, err := p.admin.CreateActivationCode(p.ctx, citizenC)
		p.must(err)
		dev, err := client.NewDevice("c's phone")
		p.must(err)
		h := p.c.Holder(dev)
		resp, err := h.Enroll(p.ctx, citizenC, code.Code)
		if err != nil {
			t.Fatalf("enrolment with an expired credential: %v", err)
		}
		if !slices.Equal(resp.Bound, []string{valid.CredentialID}) || !slices.Equal(resp.Skipped, want) {
			t.Errorf("enrolment bound %v, skipped %+v; want %v, %+v", resp.Bound, resp.Skipped, valid.CredentialID, want)
		}
		if _, err := h.ShareAndApprove(p.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: valid.CredentialID, Claims: []string{"age_over_18"}}}}); err != nil {
			t.Errorf("the valid credential after enrolment: %v", err)
		}
		// The suspended one, valid again, gets its copy on this device
		// when first shared.
		suspended := want[1].CredentialID
		_, err = nid.SetStatus(p.ctx, suspended, api.StatusRequest{Status: "valid"})
		p.must(err)
		sh, err := h.ShareAndApprove(p.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: suspended, Claims: []string{"age_over_18"}}}})
		if err != nil {
			t.Fatalf("a reinstated credential skipped at enrolment: %v", err)
		}
		if _, err := p.bank.Verify(p.ctx, sh.QRText); err != nil {
			t.Errorf("redeeming the reinstated credential: %v", err)
		}
	})
}

func claimsC() map[string]any {
	c := map[string]any{}
	for k, v := range claimsA["national_id"] {
		c[k] = v
	}
	c["id_number"], c["full_name"] = citizenC, "Tran Thi Third"
	return c
}
