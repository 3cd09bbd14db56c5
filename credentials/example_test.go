package credentials_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// An issuing authority signs a health insurance card for a holder's device
// key. Every personal claim becomes a disclosure.
func ExampleIssuer_Issue() {
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // an HSM-backed crypto.Signer in production
	holderKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // lives on the citizen's phone
	issuer, _ := credentials.NewIssuer("https://wallet.example/issuers/vss", issuerKey, rand.Reader)
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	card, _ := types.ByID(credentials.HealthInsurance)

	now := time.Now()
	sdjwt, err := issuer.Issue(credentials.IssueParams{
		Type:   card,
		Holder: &holderKey.PublicKey,
		Claims: map[string]any{
			"card_number": "DN4790123456789", "full_name": "Tran Thi Demo",
			"birth_date": "1985-02-01", "insured_from": "2026-01-01",
		},
		IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0),
		Status: &credentials.StatusRef{Index: 1234, URI: "https://wallet.example/status-lists/vss/1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	names, _ := credentials.Disclosable(sdjwt)
	fmt.Println(strings.Count(sdjwt, "~"), "tildes, ends in ~:", strings.HasSuffix(sdjwt, "~"))
	fmt.Println(len(names), "disclosable claims")
	// Output:
	// 5 tildes, ends in ~: true
	// 4 disclosable claims
}

// The holder's app keeps the SD-JWT and, for a share, presents only the
// claims the citizen chose, then binds the presentation to the verifier's
// audience and nonce with the device key.
func ExamplePresent() {
	f, sdjwt := exampleCredential()

	pres, _ := credentials.Present(sdjwt, []string{"age_over_18"})
	fmt.Println("disclosures:", strings.Count(pres, "~")-1)

	withKB, _ := credentials.Bind(pres, f.holderKey, "verifier-42", "fresh-nonce", f.now)
	fmt.Println("sd_hash covers the trailing ~:", strings.HasPrefix(withKB, pres))
	// Output:
	// disclosures: 1
	// sd_hash covers the trailing ~: true
}

// A verifier checks a presentation against its trust store and learns only
// what was disclosed.
func ExampleVerify() {
	f, sdjwt := exampleCredential()
	pres, _ := credentials.Present(sdjwt, []string{"full_name", "age_over_18"})
	pres, _ = credentials.Bind(pres, f.holderKey, "verifier-42", "fresh-nonce", f.now)

	v, err := credentials.Verify(pres, f.trust, credentials.VerifyOptions{
		Now: f.now, RequireKB: true, Audience: "verifier-42", Nonce: "fresh-nonce",
	})
	if err != nil {
		fmt.Println("not valid:", credentials.ReasonOf(err))
		return
	}
	fmt.Println(v.VCT, v.Disclosed, v.Claims["age_over_18"])

	_, err = credentials.Verify(pres, f.trust, credentials.VerifyOptions{
		Now: f.now, RequireKB: true, Audience: "verifier-42", Nonce: "replayed-nonce",
	})
	fmt.Println("other nonce:", credentials.ReasonOf(err))
	// Output:
	// urn:eidwallet:vct:national_id:1 [age_over_18 full_name] true
	// other nonce: kb_nonce_mismatch
}

// exampleCredential sets up an identity-card issuer, a trust store that
// trusts it, and a holder key, and issues one identity card.
func exampleCredential() (*fixture, string) {
	f := &fixture{now: time.Now()}
	f.issuerKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.holderKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.issuer, _ = credentials.NewIssuer(testIss, f.issuerKey, rand.Reader)
	f.types, _ = credentials.NewRegistry(credentials.BuiltinTypes()...)
	nid, _ := f.types.ByID(credentials.NationalID)
	f.trust = credentials.NewTrustStore()
	f.trust.AddIssuer(testIss, map[string]*ecdsa.PublicKey{f.issuer.KeyID(): &f.issuerKey.PublicKey}, nid.VCT)
	sdjwt, err := f.issuer.Issue(credentials.IssueParams{
		Type: nid, Claims: sampleClaims(credentials.NationalID), Holder: &f.holderKey.PublicKey,
		IssuedAt: f.now, ExpiresAt: f.now.AddDate(10, 0, 0),
	})
	if err != nil {
		panic(err)
	}
	return f, sdjwt
}
