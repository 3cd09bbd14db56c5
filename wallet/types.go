package wallet

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Type metadata (issue 13): each credential type's SD-JWT VC Type Metadata
// (draft-ietf-oauth-sd-jwt-vc-18 §4) is published at <public URL>/vct/<ref>.
// The built-in vct values are URNs (urn:eidwallet:vct:national_id:1), which
// no consumer can fetch, so the service is their registry (§4.3.2, "From a
// Registry"): ref is the vct itself, one path segment. A type whose vct is
// <public URL>/vct/<ref>, an https URL, is served at that very URL (§4.3.1,
// "From a URL in the vct Claim"); one whose vct is a URL elsewhere is not
// served here. The documents are built from the registry once, when the
// service starts, and change only with it.

// TypeMetadataPath is where the type metadata documents are, under the
// public URL.
const TypeMetadataPath = "/vct/"

// typeRef is where a type's metadata is served, the segment after
// TypeMetadataPath, and its URL; ref is "" for a vct that is a URL
// elsewhere, whose metadata is where it points (uri: the vct, if https).
func typeRef(base string, t *credentials.Type) (ref, uri string) {
	if r, own := strings.CutPrefix(t.VCT, base+TypeMetadataPath); own && r != "" && !strings.ContainsAny(r, "/?#") {
		return r, t.VCT
	}
	if strings.ContainsAny(t.VCT, "/?#") { // not one path segment
		if strings.HasPrefix(t.VCT, "https://") {
			return "", t.VCT
		}
		return "", ""
	}
	return t.VCT, base + TypeMetadataPath + url.PathEscape(t.VCT)
}

// buildTypeDocs encodes the metadata document of every registered type
// served here, keyed by the path segment it is served at. Two types
// claiming one segment (a vct "x" and a vct "<public URL>/vct/x") are
// refused.
func buildTypeDocs(base string, types *credentials.Registry) (map[string]Document, error) {
	docs := map[string]Document{}
	for _, t := range types.Types() {
		ref, _ := typeRef(base, t)
		if ref == "" {
			continue
		}
		if _, dup := docs[ref]; dup {
			return nil, fmt.Errorf("credential type %s: its type metadata would be served where another type's is", t.ID)
		}
		body, err := json.Marshal(t.Metadata())
		if err != nil {
			return nil, fmt.Errorf("credential type %s: encode type metadata: %w", t.ID, err)
		}
		docs[ref] = Document{Body: body, ETag: ETag(body)}
	}
	return docs, nil
}

// TypeMetadata returns the SD-JWT VC Type Metadata document of the type
// whose vct is ref or <public URL>/vct/<ref>, fresh for PublicDocTTL from
// now (it changes only when the service restarts with other types). It
// returns a not_found Error for any other ref.
func (s *Service) TypeMetadata(ref string) (Document, error) {
	doc, ok := s.typeDocs[ref]
	if !ok {
		return Document{}, Errorf(api.CodeNotFound, "no credential type has this vct")
	}
	doc.FreshUntil = s.now().Add(PublicDocTTL)
	return doc, nil
}

// CredentialTypes lists every credential type (GET /v1/types), ordered by
// id.
func (s *Service) CredentialTypes() []api.CredentialType {
	out := []api.CredentialType{}
	for _, t := range s.types.Types() {
		out = append(out, s.credentialType(t))
	}
	return out
}

func (s *Service) credentialType(t *credentials.Type) api.CredentialType {
	_, uri := typeRef(s.url, t)
	ct := api.CredentialType{ID: t.ID, VCT: t.VCT, Name: t.Name, Display: []api.TypeDisplay{}, MetadataURI: uri, Schema: t.Schema()}
	for _, d := range t.Display {
		ct.Display = append(ct.Display, api.TypeDisplay{Locale: d.Locale, Name: d.Name, Description: d.Description})
	}
	return ct
}
