package credentials_test

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/credentials"
)

// TestVerifyRejects makes one tampered token per reason code from a valid
// one (THREATS T1–T12, T22) and checks the reason Verify gives; beside
// them, the typ spellings RFC 7515 §4.1.9 makes equal, which must verify
// (no reason).
func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	sdjwt := f.issue(t, credentials.NationalID)
	valid := f.present(t, sdjwt, "full_name", "age_over_18")
	if _, err := credentials.Verify(valid, f.trust, f.opts()); err != nil {
		t.Fatalf("the untampered presentation fails: %v", err)
	}
	hdr, payload, discs, _ := sdParts(t, valid)
	pres := valid[:strings.LastIndexByte(valid, '~')+1]
	jwt := valid[:strings.IndexByte(valid, '~')]
	rebind := func(p string) string {
		out, err := credentials.Bind(p, f.holderKey, testAud, testNonce, f.now)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// forge re-signs an edited copy of the payload with the issuer's own
	// key, adds disclosures, and binds it: only the edit is wrong.
	forge := func(edit func(h, p map[string]any) []string) string {
		h, p := clone(t, hdr), clone(t, payload)
		extra := edit(h, p)
		return rebind(resign(t, f.issuerKey, h, p, append(append([]string{}, discs...), extra...)))
	}
	addSD := func(p map[string]any, digests ...string) {
		sd, _ := p["_sd"].([]any)
		for _, d := range digests {
			sd = append(sd, d)
		}
		p["_sd"] = sd
	}
	// T30: a listener where tokens point, to see that nothing connects.
	lookout, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lookout.Close()
	var connected atomic.Int32
	go func() {
		for {
			c, err := lookout.Accept()
			if err != nil {
				return
			}
			connected.Add(1)
			c.Close()
		}
	}()
	here := "http://" + lookout.Addr().String()
	attacker := newKey(t)
	insurerKey := newKey(t)
	insurer := "https://wallet.example/issuers/vss"
	insurerKid := thumb(t, insurerKey)
	f.trust.AddIssuer(insurer, map[string]*ecdsa.PublicKey{insurerKid: &insurerKey.PublicKey}, "urn:eidwallet:vct:health_insurance:1")

	kbPayload := func() map[string]any {
		return map[string]any{"aud": testAud, "nonce": testNonce, "iat": f.now.Unix(), "sd_hash": credentials.SDHash(pres)}
	}
	kbHeader := `{"alg":"ES256","typ":"kb+jwt"}`

	cases := []struct {
		name   string
		token  string
		opts   func(*credentials.VerifyOptions)
		reason credentials.Reason
	}{
		// Structure and size (T22).
		{name: "not an sd-jwt", token: jwt, reason: credentials.ReasonMalformed},
		{name: "jwt with two parts", token: "a.b~", reason: credentials.ReasonMalformed},
		{name: "10 MB of tildes", token: strings.Repeat("~", 10<<20), reason: credentials.ReasonTooLarge},
		{name: "257 disclosures", token: jwt + strings.Repeat("~WyJ4Il0", 257) + "~", reason: credentials.ReasonTooManyDisclosures},
		{name: "nesting 40 deep", token: forge(func(h, p map[string]any) []string {
			var deep any = "x"
			for range 40 {
				deep = map[string]any{"a": deep}
			}
			p["deep"] = deep
			return nil
		}), reason: credentials.ReasonTooDeep},
		{name: "duplicate key in payload", token: rebind(signRaw(t, f.issuerKey, headerJSON(t, hdr),
			[]byte(strings.Replace(string(mustJSON(t, payload)), `{`, `{"iss":"https://evil.example",`, 1))) + "~" + strings.Join(discs, "~") + "~"),
			reason: credentials.ReasonDuplicateKey},
		// T1: issuer JWT altered.
		{name: "signature byte flipped", token: flipSig(jwt) + pres[len(jwt):], opts: noKB, reason: credentials.ReasonInvalidSignature},
		{name: "header altered", token: reencodePart(t, jwt, 0, func(m map[string]any) { m["x"] = 1 }) + pres[len(jwt):], opts: noKB, reason: credentials.ReasonInvalidSignature},
		{name: "payload altered", token: reencodePart(t, jwt, 1, func(m map[string]any) { m["exp"] = 4102444800 }) + pres[len(jwt):], opts: noKB, reason: credentials.ReasonInvalidSignature},
		{name: "signed by another key with the issuer's kid", token: rebind(resign(t, attacker, hdr, payload, discs)), reason: credentials.ReasonInvalidSignature},
		// T2: algorithms.
		{name: "alg none", token: noneToken(t, hdr, payload) + "~" + strings.Join(discs, "~") + "~", opts: noKB, reason: credentials.ReasonUnsupportedAlg},
		{name: "HS256 keyed with the public key", token: hsToken(t, hdr, payload, &f.issuerKey.PublicKey) + "~", opts: noKB, reason: credentials.ReasonUnsupportedAlg},
		{name: "ES384 in header", token: forge(func(h, p map[string]any) []string { h["alg"] = "ES384"; return nil }), reason: credentials.ReasonUnsupportedAlg},
		// T3: keys from the token, unknown kid, wrong owner.
		{name: "embedded jwk", token: rebind(resign(t, attacker, withHeader(hdr, "jwk", jwkOf(t, attacker), "kid", thumb(t, attacker)), payload, discs)), reason: credentials.ReasonUntrustedIssuer},
		{name: "jku to 127.0.0.1", token: forge(func(h, p map[string]any) []string { h["jku"] = here + "/jwks"; return nil }), reason: credentials.ReasonUntrustedIssuer},
		{name: "x5u to 127.0.0.1", token: forge(func(h, p map[string]any) []string { h["x5u"] = here + "/cert"; return nil }), reason: credentials.ReasonUntrustedIssuer},
		{name: "iss at 127.0.0.1", token: rebind(resign(t, attacker, withHeader(hdr, "kid", thumb(t, attacker)), with(payload, "iss", here), discs)), reason: credentials.ReasonUntrustedIssuer},
		{name: "x5c", token: forge(func(h, p map[string]any) []string { h["x5c"] = []any{"MIIB"}; return nil }), reason: credentials.ReasonUntrustedIssuer},
		{name: "unknown kid", token: rebind(resign(t, attacker, withHeader(hdr, "kid", thumb(t, attacker)), payload, discs)), reason: credentials.ReasonUntrustedIssuer},
		{name: "insurer key claims mps as iss", token: rebind(resign(t, insurerKey, withHeader(hdr, "kid", insurerKid), payload, discs)), reason: credentials.ReasonUntrustedIssuer},
		// T4: an issuer signs a type it does not own.
		{name: "insurer signs a national_id", token: rebind(resign(t, insurerKey, withHeader(hdr, "kid", insurerKid), with(payload, "iss", insurer), discs)), reason: credentials.ReasonIssuerNotAuthorized},
		// Header and profile rules.
		{name: "typ JWT", token: forge(func(h, p map[string]any) []string { h["typ"] = "JWT"; return nil }), reason: credentials.ReasonInvalidTyp},
		// RFC 7515 §4.1.9: "application/" is implied, media types ignore
		// case; another type is still refused.
		{name: "typ application/dc+sd-jwt", token: forge(func(h, p map[string]any) []string { h["typ"] = "application/dc+sd-jwt"; return nil })},
		{name: "typ DC+SD-JWT", token: forge(func(h, p map[string]any) []string { h["typ"] = "DC+SD-JWT"; return nil })},
		{name: "typ text/dc+sd-jwt", token: forge(func(h, p map[string]any) []string { h["typ"] = "text/dc+sd-jwt"; return nil }), reason: credentials.ReasonInvalidTyp},
		{name: "kb typ application/kb+jwt", token: bindRaw(t, f.holderKey, `{"alg":"ES256","typ":"application/kb+jwt"}`, pres, kbPayload())},
		{name: "crit", token: forge(func(h, p map[string]any) []string { h["crit"] = []any{"x"}; h["x"] = 1; return nil }), reason: credentials.ReasonUnsupportedHeader},
		{name: "no vct", token: forge(func(h, p map[string]any) []string { delete(p, "vct"); return nil }), reason: credentials.ReasonMissingClaim},
		{name: "no iss", token: forge(func(h, p map[string]any) []string { delete(p, "iss"); return nil }), reason: credentials.ReasonUntrustedIssuer},
		// T16: validity.
		{name: "expired", token: valid, opts: func(o *credentials.VerifyOptions) { o.Now = f.now.AddDate(1, 0, 1); kbFresh(o) }, reason: credentials.ReasonExpired},
		{name: "nbf in the future", token: forge(func(h, p map[string]any) []string { p["nbf"] = f.now.Add(time.Hour).Unix(); return nil }), reason: credentials.ReasonNotYetValid},
		{name: "exp not a number", token: forge(func(h, p map[string]any) []string { p["exp"] = "tomorrow"; return nil }), reason: credentials.ReasonMalformed},
		// T5: a disclosure value edited is no longer referenced.
		{name: "disclosure value edited", token: rebind(jwt + "~" + editDisclosure(t, discs[0]) + "~" + strings.Join(discs[1:], "~") + "~"), reason: credentials.ReasonInvalidDisclosure},
		{name: "disclosure with 4 elements", token: forge(func(h, p map[string]any) []string {
			raw := b64.EncodeToString([]byte(`["c2FsdA","a","b","c"]`))
			addSD(p, credentials.Digest(raw))
			return []string{raw}
		}), reason: credentials.ReasonInvalidDisclosure},
		{name: "array element disclosure in _sd", token: forge(func(h, p map[string]any) []string {
			raw, dg := disclosure(t, nil, "x")
			addSD(p, dg)
			return []string{raw}
		}), reason: credentials.ReasonInvalidDisclosure},
		// T6: repetition.
		{name: "same disclosure twice", token: rebind(pres + discs[0] + "~"), reason: credentials.ReasonDuplicateDigest},
		{name: "a digest in two places", token: forge(func(h, p map[string]any) []string {
			sd := p["_sd"].([]any)
			p["nested"] = map[string]any{"_sd": []any{sd[0]}}
			return nil
		}), reason: credentials.ReasonDuplicateDigest},
		// T7: names and algorithms.
		{name: "disclosure named _sd", token: forge(func(h, p map[string]any) []string {
			raw, dg := disclosure(t, "_sd", []any{})
			addSD(p, dg)
			return []string{raw}
		}), reason: credentials.ReasonForbiddenClaimName},
		{name: "disclosure named ...", token: forge(func(h, p map[string]any) []string {
			raw, dg := disclosure(t, "...", "x")
			addSD(p, dg)
			return []string{raw}
		}), reason: credentials.ReasonForbiddenClaimName},
		{name: "disclosed name collides with a plain claim", token: forge(func(h, p map[string]any) []string {
			p["nickname"] = "plain"
			raw, dg := disclosure(t, "nickname", "disclosed")
			addSD(p, dg)
			return []string{raw}
		}), reason: credentials.ReasonClaimNameCollision},
		{name: "_sd_alg sha-512", token: forge(func(h, p map[string]any) []string { p["_sd_alg"] = "sha-512"; return nil }), reason: credentials.ReasonUnsupportedSDAlg},
		// T8: validity claims never disclosed.
		{name: "exp disclosed", token: forge(func(h, p map[string]any) []string {
			exp := p["exp"]
			delete(p, "exp")
			raw, dg := disclosure(t, "exp", exp)
			addSD(p, dg)
			return []string{raw}
		}), reason: credentials.ReasonSDValidityClaim},
		{name: "status disclosed", token: forge(func(h, p map[string]any) []string {
			st := p["status"]
			delete(p, "status")
			raw, dg := disclosure(t, "status", st)
			addSD(p, dg)
			return []string{raw}
		}), reason: credentials.ReasonSDValidityClaim},
		// SD-JWT VC draft-18 §2.2.2.3: no part of cnf or status either.
		{name: "cnf.jwk disclosed", token: forge(func(h, p map[string]any) []string {
			raw, dg := disclosure(t, "jwk", p["cnf"].(map[string]any)["jwk"])
			p["cnf"] = map[string]any{"_sd": []any{dg}}
			return []string{raw}
		}), reason: credentials.ReasonSDValidityClaim},
		{name: "status.status_list disclosed", token: forge(func(h, p map[string]any) []string {
			raw, dg := disclosure(t, "status_list", p["status"].(map[string]any)["status_list"])
			p["status"] = map[string]any{"_sd": []any{dg}}
			return []string{raw}
		}), reason: credentials.ReasonSDValidityClaim},
		{name: "array element disclosed inside cnf", token: forge(func(h, p map[string]any) []string {
			raw, dg := disclosure(t, nil, "x")
			p["cnf"].(map[string]any)["extra"] = []any{map[string]any{"...": dg}}
			return []string{raw}
		}), reason: credentials.ReasonSDValidityClaim},
		// RFC 7515 §2, §7.1, RFC 9901 §4.2: base64url has no line breaks,
		// which encoding/base64 would skip.
		{name: "issuer jwt signature with CRLF", token: lineBreak(jwt, "\r\n") + pres[len(jwt):], opts: noKB, reason: credentials.ReasonInvalidSignature},
		{name: "kb-jwt signature with LF", token: pres + lineBreak(valid[len(pres):], "\n"), reason: credentials.ReasonKBInvalid},
		{name: "disclosure with LF", token: forge(func(h, p map[string]any) []string {
			raw, _ := disclosure(t, "nickname", "Minh")
			raw = raw[:8] + "\n" + raw[8:]
			addSD(p, credentials.Digest(raw))
			return []string{raw}
		}), reason: credentials.ReasonInvalidDisclosure},
		// T9–T11: key binding.
		{name: "key binding stripped", token: pres, reason: credentials.ReasonKBRequired},
		{name: "kb without cnf", token: forge(func(h, p map[string]any) []string { delete(p, "cnf"); return nil }), reason: credentials.ReasonMissingHolderKey},
		{name: "kb signed by another key", token: bindRaw(t, attacker, kbHeader, pres, kbPayload()), reason: credentials.ReasonKBInvalid},
		{name: "kb typ JWT", token: bindRaw(t, f.holderKey, `{"alg":"ES256","typ":"JWT"}`, pres, kbPayload()), reason: credentials.ReasonKBInvalid},
		{name: "kb alg none", token: pres + noneKB(t, kbPayload()), reason: credentials.ReasonUnsupportedAlg},
		{name: "kb without sd_hash", token: bindRaw(t, f.holderKey, kbHeader, pres, without(kbPayload(), "sd_hash")), reason: credentials.ReasonKBInvalid},
		{name: "disclosure dropped after signing", token: jwt + "~" + discs[0] + "~" + valid[strings.LastIndexByte(valid, '~')+1:], reason: credentials.ReasonKBSDHashMismatch},
		{name: "sd_hash without trailing ~", token: bindRaw(t, f.holderKey, kbHeader, pres, with(kbPayload(), "sd_hash", credentials.Digest(strings.TrimSuffix(pres, "~")))), reason: credentials.ReasonKBSDHashMismatch},
		{name: "other nonce", token: valid, opts: func(o *credentials.VerifyOptions) { o.Nonce = "another-nonce" }, reason: credentials.ReasonKBNonceMismatch},
		{name: "other aud", token: valid, opts: func(o *credentials.VerifyOptions) { o.Audience = "verifier-s2" }, reason: credentials.ReasonKBAudMismatch},
		{name: "kb iat a year old", token: bindRaw(t, f.holderKey, kbHeader, pres, with(kbPayload(), "iat", f.now.AddDate(-1, 0, 0).Unix())), reason: credentials.ReasonKBIatOutOfWindow},
		{name: "kb iat a year ahead", token: bindRaw(t, f.holderKey, kbHeader, pres, with(kbPayload(), "iat", f.now.AddDate(1, 0, 0).Unix())), reason: credentials.ReasonKBIatOutOfWindow},
	}
	seen := map[credentials.Reason]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.opts()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := credentials.Verify(tc.token, f.trust, opts)
			if got := credentials.ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
		})
		seen[tc.reason] = true
	}
	if n := connected.Load(); n != 0 {
		t.Errorf("T30: %d connections to where the tokens' jku, x5u and iss pointed, want none", n)
	}
	// Every verification reason has a test; the status reasons are covered
	// by the status list tests.
	for _, r := range allVerifyReasons {
		if !seen[r] {
			t.Errorf("no tampering test for reason %s", r)
		}
	}
}

// TestKBExpAndNbf: a KB-JWT's exp and nbf, when present, are NumericDates
// checked against the verifier's clock with the iat leeway (RFC 9901 §7.3
// step 5, RFC 7519 §4.1.4, §4.1.5), on the verification path (Verify) and
// on the approval path (Attach, then Verify). reason "" means accepted.
func TestKBExpAndNbf(t *testing.T) {
	f := newFixture(t)
	valid := f.present(t, f.issue(t, credentials.NationalID), "full_name")
	pres := valid[:strings.LastIndexByte(valid, '~')+1]
	kbPayload := map[string]any{"aud": testAud, "nonce": testNonce, "iat": f.now.Unix(), "sd_hash": credentials.SDHash(pres)}
	at := func(d time.Duration) int64 { return f.now.Add(d).Unix() }
	cases := []struct {
		name   string
		claims []any
		reason credentials.Reason
	}{
		{name: "exp an hour ago", claims: []any{"exp", at(-time.Hour)}, reason: credentials.ReasonKBIatOutOfWindow},
		{name: "exp two minutes ago", claims: []any{"exp", at(-2 * time.Minute)}, reason: credentials.ReasonKBIatOutOfWindow},
		{name: "exp 1970", claims: []any{"exp", 0}, reason: credentials.ReasonKBIatOutOfWindow},
		{name: "exp 30 s ago, within the leeway", claims: []any{"exp", at(-30 * time.Second)}},
		{name: "exp in five minutes", claims: []any{"exp", at(5 * time.Minute)}},
		{name: "exp fractional, in five minutes", claims: []any{"exp", float64(at(5*time.Minute)) + 0.5}},
		{name: "nbf in an hour", claims: []any{"nbf", at(time.Hour)}, reason: credentials.ReasonKBIatOutOfWindow},
		{name: "nbf 30 s ahead, within the leeway", claims: []any{"nbf", at(30 * time.Second)}},
		{name: "nbf a minute ago, exp in five", claims: []any{"nbf", at(-time.Minute), "exp", at(5 * time.Minute)}},
		{name: "nbf in an hour, exp in two", claims: []any{"nbf", at(time.Hour), "exp", at(2 * time.Hour)}, reason: credentials.ReasonKBIatOutOfWindow},
		{name: "exp a string", claims: []any{"exp", fmt.Sprint(at(5 * time.Minute))}, reason: credentials.ReasonKBInvalid},
		{name: "nbf a string", claims: []any{"nbf", fmt.Sprint(at(-time.Minute))}, reason: credentials.ReasonKBInvalid},
		{name: "exp null", claims: []any{"exp", nil}, reason: credentials.ReasonKBInvalid},
		{name: "exp an object", claims: []any{"exp", map[string]any{}}, reason: credentials.ReasonKBInvalid},
		{name: "exp negative", claims: []any{"exp", -1}, reason: credentials.ReasonKBInvalid},
	}
	for _, tc := range cases {
		kb := signRaw(t, f.holderKey, `{"alg":"ES256","typ":"kb+jwt"}`, mustJSON(t, with(kbPayload, tc.claims...)))
		check := func(t *testing.T, v *credentials.Verified, err error) {
			t.Helper()
			if got := credentials.ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if tc.reason == "" && (v.KB == nil || v.KB.Nonce != testNonce) {
				t.Fatalf("accepted without its key binding: %+v", v.KB)
			}
		}
		t.Run(tc.name+"/verify", func(t *testing.T) {
			v, err := credentials.Verify(pres+kb, f.trust, f.opts())
			check(t, v, err)
		})
		t.Run(tc.name+"/approve", func(t *testing.T) {
			full, err := credentials.Attach(pres, kb)
			if err != nil {
				t.Fatalf("Attach: %v", err)
			}
			v, err := credentials.Verify(full, f.trust, f.opts())
			check(t, v, err)
		})
	}
}

// TestAlgNoneWithEmptySignature: alg none comes with an empty signature
// (RFC 7519 §6.1); it is refused as unsupported_alg, not as a shape or
// signature error, in the issuer-signed JWT and in the KB-JWT, on every
// path that reads them (THREATS T2).
func TestAlgNoneWithEmptySignature(t *testing.T) {
	f := newFixture(t)
	sdjwt := f.issue(t, credentials.NationalID)
	valid := f.present(t, sdjwt, "full_name")
	hdr, payload, discs, _ := sdParts(t, valid)
	pres := valid[:strings.LastIndexByte(valid, '~')+1]
	kbPayload := map[string]any{"aud": testAud, "nonce": testNonce, "iat": f.now.Unix(), "sd_hash": credentials.SDHash(pres)}
	noneJWT := noneToken(t, hdr, payload)
	if !strings.HasSuffix(noneJWT, ".") || !strings.HasSuffix(noneKB(t, kbPayload), ".") {
		t.Fatal("the alg none tokens do not end in an empty signature")
	}
	noneSDJWT := noneJWT + "~" + strings.Join(discs, "~") + "~"
	// An alg none KB-JWT whose signature part is not even base64url: the
	// alg is still read first.
	noneKBJunkSig := noneKB(t, kbPayload) + "*"
	cases := map[string]func() error{
		"issuer jwt, Verify": func() error {
			_, err := credentials.Verify(noneSDJWT, f.trust, f.opts())
			return err
		},
		"issuer jwt, Verify without key binding": func() error {
			opts := f.opts()
			noKB(&opts)
			_, err := credentials.Verify(noneSDJWT, f.trust, opts)
			return err
		},
		"issuer jwt, Verify with a valid kb-jwt": func() error {
			_, err := credentials.Verify(noneSDJWT+valid[len(pres):], f.trust, f.opts())
			return err
		},
		"issuer jwt, signature not base64url": func() error {
			_, err := credentials.Verify(noneJWT+"*~"+strings.Join(discs, "~")+"~", f.trust, f.opts())
			return err
		},
		"issuer jwt, ProfilePlain": func() error {
			opts := f.opts()
			noKB(&opts)
			opts.Profile = credentials.ProfilePlain
			_, err := credentials.Verify(noneSDJWT, f.trust, opts)
			return err
		},
		"issuer jwt, Present": func() error {
			_, err := credentials.Present(noneSDJWT, []string{"full_name"})
			return err
		},
		"kb-jwt, Verify": func() error {
			_, err := credentials.Verify(pres+noneKB(t, kbPayload), f.trust, f.opts())
			return err
		},
		"kb-jwt, Attach": func() error {
			_, err := credentials.Attach(pres, noneKB(t, kbPayload))
			return err
		},
		"kb-jwt, signature not base64url, Verify": func() error {
			_, err := credentials.Verify(pres+noneKBJunkSig, f.trust, f.opts())
			return err
		},
		"kb-jwt, signature not base64url, Attach": func() error {
			_, err := credentials.Attach(pres, noneKBJunkSig)
			return err
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			if got := credentials.ReasonOf(run()); got != credentials.ReasonUnsupportedAlg {
				t.Fatalf("reason %q, want %q", got, credentials.ReasonUnsupportedAlg)
			}
		})
	}
}

// lineBreak inserts br into the signature part of a compact JWS, which
// still decodes to the same bytes if line breaks are skipped.
func lineBreak(jws, br string) string {
	i := strings.LastIndexByte(jws, '.') + 10
	return jws[:i] + br + jws[i:]
}

var allVerifyReasons = []credentials.Reason{
	credentials.ReasonMalformed, credentials.ReasonTooLarge, credentials.ReasonTooManyDisclosures,
	credentials.ReasonTooDeep, credentials.ReasonDuplicateKey, credentials.ReasonInvalidSignature,
	credentials.ReasonUnsupportedAlg, credentials.ReasonUntrustedIssuer, credentials.ReasonIssuerNotAuthorized,
	credentials.ReasonInvalidTyp, credentials.ReasonUnsupportedHeader, credentials.ReasonMissingClaim,
	credentials.ReasonExpired, credentials.ReasonNotYetValid, credentials.ReasonInvalidDisclosure,
	credentials.ReasonDuplicateDigest, credentials.ReasonForbiddenClaimName, credentials.ReasonClaimNameCollision,
	credentials.ReasonUnsupportedSDAlg, credentials.ReasonSDValidityClaim, credentials.ReasonMissingHolderKey,
	credentials.ReasonKBRequired, credentials.ReasonKBInvalid, credentials.ReasonKBSDHashMismatch,
	credentials.ReasonKBNonceMismatch, credentials.ReasonKBAudMismatch, credentials.ReasonKBIatOutOfWindow,
}

// TestHighSSignatureStillVerifies documents THREATS T12: ECDSA signatures
// are malleable (s ↔ n−s), so replay state must be keyed on nonce, jti and
// share id, never on token bytes. Both forms verify here.
func TestHighSSignatureStillVerifies(t *testing.T) {
	f := newFixture(t)
	valid := f.present(t, f.issue(t, credentials.NationalID), "full_name")
	i := strings.LastIndexByte(valid, '~')
	mauled := valid[:i+1] + highS(t, valid[i+1:])
	if mauled == valid {
		t.Fatal("signature unchanged")
	}
	got, err := credentials.Verify(mauled, f.trust, f.opts())
	if err != nil {
		t.Fatalf("high-s kb-jwt: %v", err)
	}
	if got.KB.Nonce != testNonce {
		t.Error("replay key (nonce) differs between the two forms")
	}
}

func noKB(o *credentials.VerifyOptions)    { o.RequireKB = false; o.Audience = ""; o.Nonce = "" }
func kbFresh(o *credentials.VerifyOptions) { o.MaxKBAge = 400 * 24 * time.Hour }

func clone(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(mustJSON(t, m), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func withHeader(h map[string]any, kv ...any) map[string]any { return with(h, kv...) }

func without(m map[string]any, key string) map[string]any {
	out := with(m)
	delete(out, key)
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func headerJSON(t testing.TB, h map[string]any) string { return string(mustJSON(t, h)) }

func thumb(t testing.TB, k *ecdsa.PrivateKey) string {
	t.Helper()
	kid, err := credentials.Thumbprint(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

func jwkOf(t testing.TB, k *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	j, err := credentials.PublicJWK(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, j), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// flipSig changes one byte inside the signature.
func flipSig(jwt string) string {
	b := []byte(jwt)
	i := strings.LastIndexByte(jwt, '.') + 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// reencodePart edits the decoded header (0) or payload (1) of a JWT and
// re-encodes it, keeping the old signature.
func reencodePart(t testing.TB, jwt string, part int, edit func(map[string]any)) string {
	t.Helper()
	segs := strings.Split(jwt, ".")
	raw, _ := b64.DecodeString(segs[part])
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	segs[part] = b64.EncodeToString(mustJSON(t, m))
	return strings.Join(segs, ".")
}

func editDisclosure(t testing.TB, raw string) string {
	t.Helper()
	js, _ := b64.DecodeString(raw)
	var arr []any
	if err := json.Unmarshal(js, &arr); err != nil {
		t.Fatal(err)
	}
	arr[len(arr)-1] = "Edited Value"
	return b64.EncodeToString(mustJSON(t, arr))
}

func noneToken(t testing.TB, hdr, payload map[string]any) string {
	t.Helper()
	return b64.EncodeToString(mustJSON(t, with(hdr, "alg", "none"))) + "." + b64.EncodeToString(mustJSON(t, payload)) + "."
}

func noneKB(t testing.TB, kb map[string]any) string {
	t.Helper()
	return b64.EncodeToString([]byte(`{"alg":"none","typ":"kb+jwt"}`)) + "." + b64.EncodeToString(mustJSON(t, kb)) + "."
}

// hsToken signs with HMAC-SHA256 keyed by the issuer's public key bytes,
// the classic key-confusion attack (THREATS T2).
func hsToken(t testing.TB, hdr, payload map[string]any, pub *ecdsa.PublicKey) string {
	t.Helper()
	in := b64.EncodeToString(mustJSON(t, with(hdr, "alg", "HS256"))) + "." + b64.EncodeToString(mustJSON(t, payload))
	der, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, der)
	fmt.Fprint(mac, in)
	return in + "." + b64.EncodeToString(mac.Sum(nil))
}
