package wallet

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// The verifier side of OpenID for Verifiable Presentations 1.0 (issue 11):
// a request made with protocol openid4vp is a Request like an EIDR1: one —
// the same states, long-poll, events, webhook and answer shape — that a
// standard wallet answers instead of our app. The service hosts, for each
// verifier, the request URI (the signed request object) and the response
// URI (the authorization response), and checks the VP Token with the
// SD-JWT VC verifier of package credentials.

// OpenID4VP is what an openid4vp request keeps beside the common fields.
// Its nonce (requestNonce) and state (openID4VPState) are derived from its
// id, its request and response URIs from its token.
type OpenID4VP struct {
	ClientID     string // with its prefix: the aud of every KB-JWT answering it
	ResponseMode string // direct_post or direct_post.jwt
	Query        []byte // the DCQL query, as the request object carries it
	EncKey       []byte // direct_post.jwt: the request's own ECDH-ES key, sealed (PKCS #8)
	// Answered are the credentials of the answer, checked again each time
	// it is handed out (SPEC §3.7), one per document.
	Answered []AnsweredCredential
}

// AnsweredCredential is what can change, after an OpenID4VP answer, about
// one presented credential of a hosted issuer: the issuer, its key, and
// the credential's status entry.
type AnsweredCredential struct {
	IssuerID    string // a hosted issuer, or an external one (External)
	External    bool
	Kid         string
	Type        string
	StatusList  int       // a hosted issuer's list (-1: none)
	StatusIndex int       // the index in it, or in StatusURI's
	StatusURI   string    // an external issuer's status list ("" : none)
	DeviceID    string    // a hosted credential's device, whose key binds it ("" : none)
	ExpiresAt   time.Time // the credential's exp (zero: none)
}

// openID4VPState is the state of an openid4vp request (OpenID4VP 1.0 §5.2):
// derived like its nonce, so nothing secret is stored.
func (s *Service) openID4VPState(requestID string) string {
	return s.kbNonce("oid4vp-state|" + requestID)
}

// openID4VPURIs are the request URI and the response URI of the request
// id.
func (s *Service) openID4VPURIs(id string) (requestURI, responseURI string) {
	token := s.openID4VPToken(id)
	return s.url + "/oid4vp/requests/" + token, s.url + "/oid4vp/responses/" + token
}

// openID4VPToken is the token of an openid4vp request's URIs: derived, so
// that only its hash is stored (SPEC §4).
func (s *Service) openID4VPToken(id string) string { return s.derivedToken("oid4vp", id) }

// openID4VPLink is the link of r, the QR a verifier shows, with scheme.
func (s *Service) openID4VPLink(r *Request, scheme string) string {
	requestURI, _ := s.openID4VPURIs(r.ID)
	return openid4vp.Link(scheme, r.OpenID4VP.ClientID, requestURI, true)
}

// encKeyID is the kid of an openid4vp request's encryption key.
const encKeyID = "response-enc"

// createOpenID4VPRequest makes an OpenID4VP request for CreateRequest.
func (s *Service) createOpenID4VPRequest(ctx context.Context, p *Principal, req api.CreateRequestRequest, purpose string, ttl time.Duration) (*api.CreateRequestResponse, error) {
	if req.Presence != "" {
		return nil, Errorf(api.CodeInvalidRequest, "presence: an openid4vp request is shown as a QR, not addressed to a presence code")
	}
	// HAIP 1.0 §5: "the Verifier MUST use ... x509_hash" for signed requests.
	prefix := cmp.Or(req.ClientIDPrefix, openid4vp.PrefixX509Hash)
	mode := cmp.Or(req.ResponseMode, openid4vp.DirectPostJWT)
	if mode != openid4vp.DirectPost && mode != openid4vp.DirectPostJWT {
		return nil, Errorf(api.CodeInvalidRequest, "response_mode: direct_post.jwt or direct_post")
	}
	query, claims, err := s.openID4VPQuery(req)
	if err != nil {
		return nil, err
	}
	id, err := s.newID("req")
	if err != nil {
		return nil, err
	}
	token := s.openID4VPToken(id)
	requestURI, responseURI := s.openID4VPURIs(id)
	o := &OpenID4VP{ResponseMode: mode, Query: query}
	switch prefix {
	case openid4vp.PrefixX509SANDNS:
		host, err := s.dnsName()
		if err != nil {
			return nil, err
		}
		o.ClientID = prefix + ":" + host
	case openid4vp.PrefixX509Hash:
		leaf, _, err := s.verifierCertificate(ctx, p.Subject)
		if err != nil {
			return nil, s.storeErr(ctx, err, "verifier certificate")
		}
		o.ClientID = openid4vp.X509HashClientID(leaf)
	case openid4vp.PrefixRedirectURI:
		o.ClientID = prefix + ":" + responseURI
	default:
		return nil, Errorf(api.CodeInvalidRequest, "client_id_prefix: x509_san_dns, x509_hash or redirect_uri")
	}
	if prefix != openid4vp.PrefixRedirectURI {
		// Made now, outside the write below, if the verifier has none.
		if _, _, err := s.verifierCertificate(ctx, p.Subject); err != nil {
			return nil, s.storeErr(ctx, err, "verifier certificate")
		}
	}
	if mode == openid4vp.DirectPostJWT {
		key, err := credentials.NewEncryptionKey(s.rand)
		if err != nil {
			return nil, err
		}
		der, err := credentials.MarshalPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if o.EncKey, err = s.sealBytes(der, "oid4vp-enc-key", id); err != nil {
			return nil, err
		}
	}
	now := s.now().UTC()
	r := &Request{ID: id, VerifierID: p.Subject, Status: api.RequestCreated, Claims: claims, Purpose: purpose,
		Created: now, ExpiresAt: now.Add(ttl), TokenHash: hashSecret(token), OpenID4VP: o}
	err = s.store.Update(ctx, func(tx Tx) error {
		v, err := Verifiers.Get(tx, p.Subject)
		if err != nil {
			return err
		}
		if err := notRetired(v); err != nil {
			return err
		}
		if !registered(v, claims) {
			return Errorf(api.CodeForbidden, "the verifier is not registered for every claim asked")
		}
		if err := Requests.Put(tx, r); err != nil {
			return err
		}
		return s.appendVerification(tx, &api.Verification{VerifierID: v.ID, At: now, RequestID: r.ID, Result: "requested", Claims: requestClaimNames(claims)})
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	s.log.InfoContext(ctx, "request created", "verifier_id", p.Subject, "verifier_request_id", id, "protocol", api.ProtocolOpenID4VP)
	resp := &api.CreateRequestResponse{RequestID: id, Status: api.RequestCreated, ExpiresAt: r.ExpiresAt, Nonce: s.requestNonce(id),
		QRText: s.openID4VPLink(r, openid4vp.SchemeOpenID4VP), ClientID: o.ClientID, RequestURI: requestURI}
	// HAIP 1.0 §5: a haip-vp:// link only for a request HAIP allows — the
	// x509_hash prefix and an encrypted response (direct_post.jwt).
	if prefix == openid4vp.PrefixX509Hash && mode == openid4vp.DirectPostJWT {
		resp.HAIPLink = s.openID4VPLink(r, openid4vp.SchemeHAIP)
	}
	return resp, nil
}

// openID4VPQuery is the DCQL query of a request, as JSON, and the claims
// it asks for by type (what the verifier must be registered for and the
// logs name): given as claims, one credential query per type, named by
// the type's id; given as a DCQL query, each query of dc+sd-jwt with the
// vct values of known types and paths whose first element is one of
// their claims.
func (s *Service) openID4VPQuery(req api.CreateRequestRequest) ([]byte, map[string][]string, error) {
	if (len(req.DCQLQuery) == 0) == (len(req.Claims) == 0) {
		return nil, nil, Errorf(api.CodeInvalidRequest, "claims or dcql_query: one of the two")
	}
	if len(req.DCQLQuery) == 0 {
		if err := s.checkClaimSet(req.Claims); err != nil {
			return nil, nil, err
		}
		q := openid4vp.Query{}
		types := make([]string, 0, len(req.Claims))
		for typ := range req.Claims {
			types = append(types, typ)
		}
		sort.Strings(types)
		for _, typ := range types {
			t, _ := s.types.ByID(typ)
			cq := openid4vp.CredentialQuery{ID: typ, Format: openid4vp.FormatSDJWTVC, Meta: &openid4vp.Meta{VCTValues: []string{t.VCT}}}
			names := slices.Compact(slices.Sorted(slices.Values(req.Claims[typ])))
			for _, n := range names {
				cq.Claims = append(cq.Claims, openid4vp.ClaimsQuery{Path: openid4vp.Path{n}})
			}
			q.Credentials = append(q.Credentials, cq)
		}
		// The query wallets get must itself be valid (§6: one claim once,
		// bounded sizes).
		if err := q.Validate(); err != nil {
			return nil, nil, Errorf(api.CodeInvalidRequest, "claims: %s", err)
		}
		b, err := json.Marshal(q, json.Deterministic(true))
		return b, req.Claims, err
	}
	q, err := openid4vp.ParseQuery(req.DCQLQuery)
	if err != nil {
		return nil, nil, Errorf(api.CodeInvalidRequest, "%s", err)
	}
	claims := map[string][]string{}
	for _, cq := range q.Credentials {
		if cq.Format != openid4vp.FormatSDJWTVC {
			return nil, nil, Errorf(api.CodeInvalidRequest, "dcql_query: %s: format dc+sd-jwt only", cq.ID)
		}
		// §6.1.1's authorities are X.509 key identifiers, ETSI trusted
		// lists and federations; the issuers here sign with JWKS keys and
		// belong to none, so a query that needs one could never be met.
		// Every query names its claims, so that the verifier's registration
		// covers what it asks (T35), and holder binding stays required
		// (T9: without a KB-JWT nothing binds the answer to this request).
		if len(cq.Claims) == 0 {
			return nil, nil, Errorf(api.CodeInvalidRequest, "dcql_query: %s: name the claims asked (claims)", cq.ID)
		}
		if cq.RequireHolderBinding != nil && !*cq.RequireHolderBinding {
			return nil, nil, Errorf(api.CodeInvalidRequest, "dcql_query: %s: require_cryptographic_holder_binding must stay true", cq.ID)
		}
		if cq.TrustedAuthorities != nil {
			return nil, nil, Errorf(api.CodeInvalidRequest, "dcql_query: %s: trusted_authorities: the issuers this service trusts are named by the operator, not by a trust framework (leave it out)", cq.ID)
		}
		for _, vct := range cq.Meta.VCTValues {
			t, ok := s.types.ByVCT(vct)
			if !ok {
				return nil, nil, Errorf(api.CodeInvalidRequest, "dcql_query: %s: unknown vct", cq.ID)
			}
			if claims[t.ID] == nil {
				claims[t.ID] = []string{} // asked for, with no selectively disclosable claim
			}
			for _, cl := range cq.Claims {
				name, ok := cl.Path[0].(string)
				if !ok || !slices.ContainsFunc(t.Claims, func(c credentials.Claim) bool { return c.Name == name }) {
					return nil, nil, Errorf(api.CodeInvalidRequest, "dcql_query: %s: a path names no claim of %s", cq.ID, t.ID)
				}
				if !slices.Contains(claims[t.ID], name) {
					claims[t.ID] = append(claims[t.ID], name)
				}
			}
		}
	}
	return req.DCQLQuery, claims, nil
}

// dnsName is the host of the public URL, the value of an x509_san_dns
// client identifier: a DNS name, since the response URI's host must be it
// (OpenID4VP 1.0 §5.9.3).
func (s *Service) dnsName() (string, error) {
	u, err := url.Parse(s.url)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return "", Errorf(api.CodeInvalidRequest, "client_id_prefix: x509_san_dns needs a public URL with a DNS name; use x509_hash")
	}
	return u.Hostname(), nil
}

// OpenID4VPRequestObject answers a wallet at the request URI of token
// (OpenID4VP 1.0 §5.10, RFC 9101 §5.2): the request object, signed with
// the verifier's certificate (x509_san_dns, x509_hash) or unsigned
// (redirect_uri), with walletNonce echoed when the wallet posted one. It
// may be fetched more than once until the request ends; the first fetch
// makes it delivered. Unknown tokens are 404; ended requests 410 or 409.
func (s *Service) OpenID4VPRequestObject(ctx context.Context, token, walletNonce string) (string, error) {
	if len(walletNonce) > 256 || strings.ContainsFunc(walletNonce, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return "", Errorf(api.CodeInvalidRequest, "wallet_nonce: up to 256 printable ASCII characters")
	}
	now := s.now().UTC()
	var r *Request
	var v *Verifier
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if r, err = openID4VPRequest(tx, token); err != nil {
			return err
		}
		if err := undecided(r, now); err != nil {
			return err
		}
		v, err = Verifiers.Get(tx, r.VerifierID)
		return err
	})
	if err != nil {
		return "", s.storeErr(ctx, err, "request")
	}
	o := r.OpenID4VP
	_, responseURI := s.openID4VPURIs(r.ID)
	obj := openid4vp.RequestObject{ResponseType: "vp_token", ResponseMode: o.ResponseMode, ClientID: o.ClientID,
		ResponseURI: responseURI, Nonce: s.requestNonce(r.ID), State: s.openID4VPState(r.ID), DCQLQuery: o.Query,
		ClientMetadata: &openid4vp.ClientMetadata{VPFormatsSupported: openid4vp.SDJWTES256},
		Aud:            openid4vp.Audience{openid4vp.StaticAudience}, Iat: now.Unix(), Exp: r.ExpiresAt.Unix(), WalletNonce: walletNonce}
	if prefix, _ := openid4vp.ClientIDPrefix(o.ClientID); prefix != openid4vp.PrefixRedirectURI {
		obj.Iss = o.ClientID // RFC 9101 §4: a signed request object SHOULD carry iss, the client_id
	}
	if o.ResponseMode == openid4vp.DirectPostJWT {
		key, err := s.openID4VPKey(r)
		if err != nil {
			return "", err
		}
		if obj.ClientMetadata.JWKS, err = credentials.EncryptionJWKS(&key.PublicKey, encKeyID); err != nil {
			return "", err
		}
		obj.ClientMetadata.EncryptedResponseEncs = credentials.ResponseEncs
	}
	var jwt string
	if prefix, _ := openid4vp.ClientIDPrefix(o.ClientID); prefix == openid4vp.PrefixRedirectURI {
		jwt, err = credentials.UnsignedJWT(openid4vp.TypRequestObject, obj)
	} else {
		jwt, err = s.signRequestObject(ctx, v, o.ClientID, obj)
	}
	if err != nil {
		return "", s.storeErr(ctx, err, "request")
	}
	if r.Status == api.RequestCreated {
		if err := s.markDelivered(ctx, r.ID); err != nil {
			return "", err
		}
	}
	return jwt, nil
}

// openID4VPRequest reads the openid4vp request of token: anything else is
// not found.
func openID4VPRequest(tx Tx, token string) (*Request, error) {
	r, err := Requests.By(tx, byToken, hashSecret(token))
	if err := mine(err, "request", func() bool { return r.OpenID4VP != nil }); err != nil {
		return nil, err
	}
	return r, nil
}

// markDelivered records that a wallet fetched the request, once.
func (s *Service) markDelivered(ctx context.Context, id string) error {
	changed := false
	err := s.store.Update(ctx, func(tx Tx) error {
		r, err := Requests.Get(tx, id)
		if err != nil || r.Status != api.RequestCreated {
			return err
		}
		r.Status, changed = api.RequestDelivered, true
		return Requests.Put(tx, r)
	})
	if err != nil {
		return s.storeErr(ctx, err, "request")
	}
	if changed {
		s.notify(ctx, requestKey(id))
	}
	return nil
}

// signRequestObject signs obj with the verifier's key, its certificate and
// the CA's in x5c. An x509_hash client identifier names one certificate:
// if the verifier's changed since the request was made, it is refused.
func (s *Service) signRequestObject(ctx context.Context, v *Verifier, clientID string, obj openid4vp.RequestObject) (string, error) {
	leaf, key, err := s.verifierCertificate(ctx, v.ID)
	if err != nil {
		return "", err
	}
	if prefix, _ := openid4vp.ClientIDPrefix(clientID); prefix == openid4vp.PrefixX509Hash && openid4vp.X509HashClientID(leaf) != clientID {
		return "", Errorf(api.CodeConflict, "the verifier's certificate changed since the request was made")
	}
	// HAIP 1.0 §5: "The X.509 certificate of the trust anchor MUST NOT be
	// included in the x5c JOSE header": the service's CA, a wallet's
	// anchor (GET /oid4vp/ca.pem), is left out; an imported chain is as
	// given, without its root.
	chain := withoutRoot(append([][]byte{leaf}, v.CertChain...))
	return credentials.SignJWTWithChain(key, openid4vp.TypRequestObject, chain, obj)
}

// openID4VPKey unseals the request's response encryption key.
func (s *Service) openID4VPKey(r *Request) (*ecdsa.PrivateKey, error) {
	der, err := s.openBytes(r.OpenID4VP.EncKey, "oid4vp-enc-key", r.ID)
	if err != nil {
		return nil, err
	}
	return credentials.ParsePrivateKey(der)
}

// OpenID4VPResponse takes the authorization response a wallet posted to
// the response URI of token (OpenID4VP 1.0 §8.2, §8.3.1): decrypted
// (direct_post.jwt), its state checked, then either an error (the request
// is declined) or a VP Token, validated per §8.6 — each presentation by
// the SD-JWT VC verifier (hosted issuers' keys and types, KB-JWT aud the
// full client identifier, the request's nonce, a fresh iat, sd_hash), its
// status, and the whole against the DCQL query — and the request
// approved with the documents, which the verifier then gets as from any
// request. A response that fails is refused with invalid_request and its
// reason, logged in the verifier's log, and leaves the request open; one
// to a request already answered is refused too.
func (s *Service) OpenID4VPResponse(ctx context.Context, token string, form url.Values) (*api.OpenID4VPAnswer, error) {
	resp, err := openid4vp.ParseForm(form)
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "%s", err)
	}
	now := s.now().UTC()
	var r *Request
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		if r, err = openID4VPRequest(tx, token); err != nil {
			return err
		}
		if requestState(r, now) == api.RequestExpired {
			return Errorf(api.CodeShareExpired, "the request has expired")
		}
		if r.Decided != nil {
			return Errorf(api.CodeInvalidRequest, "the request was already answered")
		}
		return nil
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	docs, answered, err := s.openID4VPAnswer(ctx, r, resp, now)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok && e.Code != api.CodeStorageUnavailable {
			s.logRefusedResponse(ctx, r, e, now)
		}
		return nil, s.storeErr(ctx, err, "request")
	}
	load := func(tx Tx) (*Request, error) { return Requests.Get(tx, r.ID) }
	_, err = s.answer(ctx, r.ID, load, func(tx Tx, cur *Request, _ time.Time) error {
		if answered == nil {
			cur.Status, cur.Items = api.RequestDeclined, nil
			return nil
		}
		cur.Status, cur.Items, cur.OpenID4VP.Answered = api.RequestApproved, answered.items, answered.creds
		if answered.holderID != "" {
			cur.HolderID = answered.holderID // so the holder's activity names the answer (SPEC §3.6)
		}
		return ShareDocuments.Put(tx, docs, cur.ID)
	})
	if err != nil {
		return nil, err
	}
	return &api.OpenID4VPAnswer{}, nil
}

// openID4VPAnswered is a validated VP Token: per document, the item the
// logs name and what is checked again at hand-out.
type openID4VPAnswered struct {
	items    []ShareItem
	creds    []AnsweredCredential
	holderID string // the citizen whose copy was presented, if ours: the activity names it
}

// openID4VPAnswer validates resp for r: the sealed documents and what was
// answered, or nil for an error response (declined).
func (s *Service) openID4VPAnswer(ctx context.Context, r *Request, resp *openid4vp.Response, now time.Time) ([][]byte, *openID4VPAnswered, error) {
	o := r.OpenID4VP
	refuse := func(reason, format string, args ...any) error {
		return &Error{Code: api.CodeInvalidRequest, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case resp.Encrypted != "" && o.ResponseMode != openid4vp.DirectPostJWT:
		return nil, nil, refuse("", "this request takes direct_post: an unencrypted response")
	case resp.Encrypted != "":
		key, err := s.openID4VPKey(r)
		if err != nil {
			return nil, nil, err
		}
		plain, err := credentials.DecryptResponse(resp.Encrypted, key, encKeyID, credentials.ResponseEncs)
		if err != nil {
			return nil, nil, refuse(string(credentials.ReasonOf(err)), "response: %s", credentials.ReasonOf(err))
		}
		if resp, err = openid4vp.ParsePayload(plain); err != nil {
			return nil, nil, refuse("", "response: %s", err)
		}
	case o.ResponseMode == openid4vp.DirectPostJWT && resp.Error == "":
		// §8.3.1: only an error may come unencrypted.
		return nil, nil, refuse("", "this request takes direct_post.jwt: the response must be encrypted")
	}
	if resp.State != s.openID4VPState(r.ID) {
		return nil, nil, refuse("state_mismatch", "state is not the request's")
	}
	if resp.Error != "" {
		// §8.5 and RFC 6749 §4.1.2.1: only a defined error declines.
		switch resp.Error {
		case openid4vp.ErrAccessDenied, openid4vp.ErrInvalidRequest, openid4vp.ErrInvalidClient, openid4vp.ErrVPFormatsNotSupported,
			openid4vp.ErrInvalidRequestURI, openid4vp.ErrInvalidTransactionData, openid4vp.ErrWalletUnavailable, "unauthorized_client",
			"unsupported_response_type", "invalid_scope", "server_error", "temporarily_unavailable":
			return nil, nil, nil
		}
		return nil, nil, refuse("", "error: not an error code of OpenID4VP or RFC 6749")
	}
	query, err := openid4vp.ParseQuery(o.Query)
	if err != nil {
		return nil, nil, fmt.Errorf("request %s: stored dcql query: %w", r.ID, err)
	}
	trust, issuers, err := s.presentationTrust(ctx)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, 0, len(resp.VPToken))
	for id := range resp.VPToken {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// §8.6: a presentation that fails a check of its own is discarded;
	// the response is refused when what is left does not satisfy the
	// query, then with the first discarded one's reason. A storage
	// failure is never a discard: it ends the answer (fail closed).
	presented := map[string][]openid4vp.Presented{}
	var kept []*answeredPresentation
	var discarded error
	for _, id := range ids {
		for _, p := range resp.VPToken[id] {
			a, err := s.checkPresentation(ctx, r, trust, issuers, p, now)
			if e, ok := errors.AsType[*Error](err); ok && (e.Code == api.CodeInvalidRequest || e.Code == api.CodeVerificationFailed) {
				if discarded == nil {
					discarded = refuse(e.Reason, "vp_token: %s: %s", id, cmp.Or(e.Reason, e.Message))
				}
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			presented[id] = append(presented[id], openid4vp.Presented{VCT: a.v.VCT, Claims: a.v.Claims})
			kept = append(kept, a)
		}
	}
	if err := query.CheckResponse(presented); err != nil {
		if discarded != nil {
			return nil, nil, discarded
		}
		return nil, nil, refuse("dcql_unsatisfied", "%s", err)
	}
	ans := &openID4VPAnswered{}
	for _, a := range kept {
		// One response is one citizen's answer (SPEC §3.3, §3.6): its
		// activity records what was disclosed. Presentations bound to the
		// devices of two citizens are not one wallet's answer, and would
		// charge one citizen's log with the other's disclosure.
		switch {
		case a.c.External:
		case ans.holderID == "":
			ans.holderID = a.holderID
		case a.holderID != ans.holderID:
			return nil, nil, refuse("holder_mismatch", "vp_token: presentations bound to the devices of two citizens")
		}
	}
	docs := make([][]byte, len(kept))
	for i, a := range kept {
		v := a.v
		// What the verifier gets: the disclosed claims it asked for
		// (SPEC §3.7: never more than the request named).
		claims := map[string]any{}
		for _, n := range a.revealed {
			claims[n] = v.Claims[n]
		}
		names := slices.Sorted(maps.Keys(claims))
		doc := api.Document{Type: a.c.Type, Issuer: api.Party{ID: a.c.IssuerID, Name: a.issuerName}, IssuedAt: v.IssuedAt.UTC(), ExpiresAt: v.ExpiresAt.UTC(),
			Status: api.StatusValid, HolderBinding: "verified", KeyBinding: api.KeyBinding{Aud: v.KB.Aud, Nonce: v.KB.Nonce},
			Claims: claims, Presentation: a.presentation}
		raw, err := json.Marshal(doc, AnswerOptions)
		if err != nil {
			return nil, nil, err
		}
		if docs[i], err = s.sealBytes(raw, "share-document", r.ID, strconv.Itoa(i)); err != nil {
			return nil, nil, err
		}
		ans.items = append(ans.items, ShareItem{Type: a.c.Type, Claims: names, Kid: v.KeyID})
		ans.creds = append(ans.creds, a.c)
	}
	return docs, ans, nil
}

// answeredPresentation is one presentation of a VP Token that passed
// every check of its own (checkPresentation).
type answeredPresentation struct {
	presentation string
	v            *credentials.Verified
	c            AnsweredCredential
	issuerName   string
	holderID     string   // the citizen whose device presented it, for a hosted credential
	revealed     []string // the claims it discloses, each one the request asked for
}

// checkPresentation runs the checks of OpenID4VP 1.0 §8.6 step 2 on one
// presentation p of r's response: RFC 9901 §7.3 with the KB-JWT's aud the
// full client identifier (§14.1.5) and its nonce the request's; a hosted
// credential presented by a key of one of our active devices (SPEC §2);
// no disclosure the request did not name (SPEC §3.7, T35); status and
// validity (checkAnswered). A failed check is an *Error of code
// invalid_request with the reason; anything else is a failure to check.
func (s *Service) checkPresentation(ctx context.Context, r *Request, trust *credentials.TrustStore, issuers map[string]trustedIssuer,
	p string, now time.Time) (*answeredPresentation, error) {
	refuse := func(reason, format string, args ...any) error {
		return &Error{Code: api.CodeInvalidRequest, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	o := r.OpenID4VP
	v, err := credentials.Verify(p, trust, credentials.VerifyOptions{Now: now, RequireKB: true, Audience: o.ClientID, Nonce: s.requestNonce(r.ID)})
	if err != nil {
		reason := credentials.ReasonOf(err)
		return nil, refuse(string(reason), "%s", reason)
	}
	t, _ := s.types.ByVCT(v.VCT) // the trust store trusts known types only
	is := issuers[v.Issuer]
	a := &answeredPresentation{presentation: p, v: v, issuerName: is.Name,
		c: AnsweredCredential{IssuerID: is.ID, External: is.External, Kid: v.KeyID, Type: t.ID, StatusList: -1, ExpiresAt: v.ExpiresAt}}
	switch {
	case v.Status == nil:
	case is.External:
		a.c.StatusURI, a.c.StatusIndex = v.Status.URI, v.Status.Index
	default:
		if a.c.StatusList, a.c.StatusIndex, err = s.hostedStatusRef(is.ID, v.Status); err != nil {
			return nil, err
		}
	}
	if !is.External {
		// SPEC §2: a hosted credential is presented only by a key of one
		// of our devices, and none once that device is revoked.
		if a.c.DeviceID, a.holderID, err = s.deviceOf(ctx, v.Holder); err != nil {
			return nil, err
		}
		if a.c.DeviceID == "" {
			return nil, refuse(api.ReasonDeviceRevoked, "the key binding is no device of this service's")
		}
	}
	// What the verifier gets is what it asked (SPEC §3.7, T35): the
	// presentation is handed out whole (sd_hash covers it), so one that
	// discloses a claim the request did not name, or a part of one (a
	// nested property or array element), is refused.
	a.revealed = slices.Concat(v.Disclosed, v.DisclosedWithin)
	for _, n := range a.revealed {
		if !slices.Contains(r.Claims[t.ID], n) {
			return nil, refuse("disclosure_not_requested", "a claim the request did not ask for is disclosed")
		}
	}
	if err := s.checkAnswered(ctx, storeFetch{ctx, s.store}, []AnsweredCredential{a.c}); err != nil {
		if e, ok := errors.AsType[*Error](err); ok && e.Code == api.CodeVerificationFailed {
			return nil, refuse(e.Reason, "%s", e.Reason)
		}
		return nil, err
	}
	return a, nil
}

// trustedIssuer is an issuer a presentation may come from: hosted, or
// external.
type trustedIssuer struct {
	ID, Name string
	External bool
}

// presentationTrust is the trust store of every active hosted issuer and
// every external one fresh enough to trust, with the issuers by their
// issuer identifier.
func (s *Service) presentationTrust(ctx context.Context) (*credentials.TrustStore, map[string]trustedIssuer, error) {
	var hosted []*Issuer
	var external []*ExternalIssuer
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if hosted, err = Issuers.List(tx, "", Order{}); err != nil {
			return err
		}
		external, err = ExternalIssuers.List(tx, "", Order{})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	byISS := map[string]trustedIssuer{}
	for _, is := range hosted {
		byISS[s.IssuerURL(is.ID)] = trustedIssuer{ID: is.ID, Name: is.Name}
	}
	trust, err := s.trust(hosted)
	if err != nil {
		return nil, nil, err
	}
	s.trustExternal(trust, external, byISS, s.now())
	return trust, byISS, nil
}

// hostedStatusRef reads a status reference of a hosted issuer's
// credential: its list and index. A reference to another list cannot be
// checked here and fails closed.
func (s *Service) hostedStatusRef(issuerID string, ref *credentials.StatusRef) (list, index int, err error) {
	prefix := s.url + "/status-lists/" + issuerID + "/"
	n, err := strconv.Atoi(strings.TrimPrefix(ref.URI, prefix))
	if !strings.HasPrefix(ref.URI, prefix) || err != nil || n < 0 || ref.Index < 0 || ref.Index >= StatusListSize {
		return 0, 0, &Error{Code: api.CodeStatusUnavailable, Message: "the credential's status list is not one this service keeps"}
	}
	return n, ref.Index, nil
}

// checkAnswered checks again what can change about answered credentials
// (SPEC §3.7): each issuer still trusted for the type and still
// publishing the key, the device an exported copy came from still active,
// and each credential's status still valid — read
// from the store for a hosted issuer, from its status list (cached for
// its ttl) for an external one.
func (s *Service) checkAnswered(ctx context.Context, f fetcher, creds []AnsweredCredential) error {
	var ls []Lookup
	for _, c := range creds {
		if c.External {
			ls = append(ls, ExternalIssuers.Lookup("", c.IssuerID))
			continue
		}
		ls = append(ls, Issuers.Lookup("", c.IssuerID), Devices.Lookup("", c.DeviceID))
		if c.StatusList >= 0 {
			ls = append(ls, StatusLists.Lookup("", c.IssuerID, c.StatusList), StatusEntries.Lookup("", c.IssuerID, c.StatusList, c.StatusIndex))
		}
	}
	got, err := f.Fetch(ls...)
	if err != nil {
		return err
	}
	untrusted := failed(credentials.ReasonUntrustedIssuer, "the issuer or its signing key is no longer trusted")
	for _, c := range creds {
		if !c.ExpiresAt.IsZero() && !s.now().Before(c.ExpiresAt) {
			return failed(credentials.ReasonExpired, "the credential has expired")
		}
		if c.External {
			ei, err := ExternalIssuers.Fetched(got[0], c.IssuerID)
			if err != nil {
				return err
			}
			got = got[1:]
			if !externalTrusts(ei, c.Type, c.Kid, s.now()) {
				return untrusted
			}
			if c.StatusURI != "" {
				if err := s.externalStatus(ctx, ei, credentials.StatusRef{URI: c.StatusURI, Index: c.StatusIndex}); err != nil {
					return err
				}
			}
			continue
		}
		is, err := Issuers.Fetched(got[0], c.IssuerID)
		if err != nil {
			return err
		}
		if !issuerTrusts(is, c.Type, c.Kid) {
			return untrusted
		}
		if c.DeviceID != "" { // SPEC §2: a revoked device's copies are unusable, exported ones too
			d, err := Devices.Fetched(got[1], c.DeviceID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err != nil || d.Revoked != nil {
				return failed(api.ReasonDeviceRevoked, "the device this copy was exported from was revoked")
			}
		}
		got = got[2:]
		if c.StatusList < 0 {
			continue
		}
		if _, err := StatusLists.Fetched(got[0], c.IssuerID, c.StatusList); errors.Is(err, ErrNotFound) {
			return &Error{Code: api.CodeStatusUnavailable, Message: "the credential's status list does not exist"}
		} else if err != nil {
			return err
		}
		e, err := StatusEntries.Fetched(got[1], c.IssuerID, c.StatusList, c.StatusIndex)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case e.Value == 1:
			return failed(credentials.ReasonRevoked, "the credential was revoked")
		case e.Value == 2:
			return failed(credentials.ReasonSuspended, "the credential is suspended")
		default:
			return &Error{Code: api.CodeStatusUnavailable, Message: "the credential's status is not one this service knows"}
		}
		got = got[2:]
	}
	return nil
}

// logRefusedResponse records a refused response in the verifier's log,
// and counts it (usage.go); failing to is logged, never the answer.
func (s *Service) logRefusedResponse(ctx context.Context, r *Request, e *Error, now time.Time) {
	// Once per request and reason: anyone with the public link can post,
	// and must not fill the verifier's log, nor the statistics.
	err := s.store.Batch(ctx, func(tx Tx) error {
		if err := tx.UseOnce(s.onceKey("oid4vp-refused", r.ID, string(e.Code)+"|"+e.Reason), r.ExpiresAt.Add(clockSkew), now); errors.Is(err, ErrExists) {
			return nil
		} else if err != nil {
			return err
		}
		if err := s.appendVerification(tx, &api.Verification{VerifierID: r.VerifierID, At: now, RequestID: r.ID, Result: string(e.Code), Reason: e.Reason}); err != nil {
			return err
		}
		return s.countRefusal(tx, requestUsage(ctx, r).failed(e))
	})
	if err != nil {
		s.log.WarnContext(ctx, "verification log", "verifier_id", r.VerifierID, "err", err)
	}
	s.log.InfoContext(ctx, "openid4vp response refused", "verifier_request_id", r.ID, "error", string(e.Code), "reason", e.Reason)
}

// openID4VPResult opens the documents of an approved openid4vp request,
// after checking again what can change (SPEC §3.7).
func (s *Service) openID4VPResult(ctx context.Context, r *Request, body []byte) ([]api.Document, error) {
	if err := s.checkAnswered(ctx, storeFetch{ctx, s.store}, r.OpenID4VP.Answered); err != nil {
		return nil, err
	}
	keys := make([]string, len(r.OpenID4VP.Answered)) // sealed by position: a wallet's credentials have no id here
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	return s.openSealedDocuments(r.ID, keys, body)
}

// deviceOf is the active device whose key is holder, and its holder; ""
// when the key is no device's, or its device is revoked.
func (s *Service) deviceOf(ctx context.Context, holder *ecdsa.PublicKey) (deviceID, holderID string, err error) {
	if holder == nil {
		return "", "", nil
	}
	thumb, err := credentials.Thumbprint(holder)
	if err != nil {
		return "", "", err
	}
	got, err := s.store.Fetch(ctx, DeviceKeys.Lookup(thumb))
	if err != nil {
		return "", "", err
	}
	id, err := DeviceKeys.Fetched(got[0], thumb)
	if errors.Is(err, ErrNotFound) {
		return "", "", nil
	} else if err != nil {
		return "", "", err
	}
	if got, err = s.store.Fetch(ctx, Devices.Lookup("", string(id))); err != nil {
		return "", "", err
	}
	d, err := Devices.Fetched(got[0], string(id))
	if errors.Is(err, ErrNotFound) || err == nil && d.Revoked != nil {
		return "", "", nil
	} else if err != nil {
		return "", "", err
	}
	return d.ID, d.HolderID, nil
}
