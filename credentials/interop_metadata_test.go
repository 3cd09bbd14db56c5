package credentials_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// TestInteropTypeMetadata: @sd-jwt/sd-jwt-vc, verifying each built-in
// type's credential with its Type Metadata loaded for the credential's
// vct, parses our document as the SD-JWT VC Type Metadata format and
// keeps every member of it (locale and label, not the deprecated lang);
// a document it must not take (an sd value the draft has not) fails the
// verification.
func TestInteropTypeMetadata(t *testing.T) {
	f := newFixture(t)
	statusTok := interopStatusToken(t, f)
	jwks := interopJWKS(t, &f.issuerKey.PublicKey)
	verifyReq := func(pres string, doc any) map[string]any {
		return map[string]any{
			"op": "verify", "presentation": pres, "issuer_jwks": jwks,
			"status_lists": map[string]any{interopStatusURI: statusTok},
			"aud":          testAud, "nonce": testNonce, "now": f.now.Unix(),
			"max_kb_age":    int64(credentials.DefaultMaxKBAge / time.Second),
			"type_metadata": doc,
		}
	}
	var reqs []map[string]any
	var docs []any
	for _, ty := range f.types.Types() {
		sdjwt := f.issue(t, ty.ID)
		all, err := credentials.Disclosable(sdjwt)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := interopNormal(t, ty.Metadata())
		reqs = append(reqs, verifyReq(f.present(t, sdjwt, all...), doc))
		docs = append(docs, doc)
	}
	nid, _ := f.types.ByID(credentials.NationalID)
	bad := nid.Metadata()
	bad.Claims[0].SD = "sometimes"
	badDoc, _ := interopNormal(t, bad)
	reqs = append(reqs, verifyReq(f.present(t, f.issue(t, credentials.NationalID), "full_name"), badDoc))

	res := runInterop(t, reqs)
	for i, doc := range docs {
		if !res[i].OK {
			t.Fatalf("%s: the library refused our type metadata: %s", f.types.Types()[i].ID, res[i].Error)
		}
		got, _ := interopNormal(t, res[i].TypeMetadata)
		if !reflect.DeepEqual(got, doc) {
			t.Errorf("%s: the library made\n%v\nof\n%v", f.types.Types()[i].ID, got, doc)
		}
	}
	if last := res[len(res)-1]; last.OK || !strings.Contains(last.Error, "Invalid VCT type metadata") {
		t.Errorf("a document with sd \"sometimes\": ok %v, error %q", last.OK, last.Error)
	}
}
