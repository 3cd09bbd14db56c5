package wallet

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// The wallet side of OpenID4VP 1.0 (issue 11): a citizen answers a
// standard verifier's request through our app. The service fetches the
// request object under the outbound rules of SPEC §6, judges it, chooses
// the credentials that answer its DCQL query, and then — after the same
// prepare and approve as an EIDR1: request, the KB-JWTs bound to the
// verifier's full client identifier and its nonce — posts the VP Token to
// the verifier's response URI.

// RemoteRequest is what a request of a verifier elsewhere keeps.
type RemoteRequest struct {
	ClientID     string // the verifier: the aud of the KB-JWTs
	Verified     bool   // signed by a certificate chaining to a trust anchor
	Name         string // the certificate's organization, or the client identifier's value
	ResponseURI  string
	ResponseMode string
	Nonce        string
	State        string
	EncJWKS      []byte // direct_post.jwt: the verifier's client_metadata.jwks
	Enc          string // the content encryption chosen from what it supports
	Chosen       []RemoteAnswer
	RedirectURI  string // the verifier's answer to the response, if any
}

// RemoteAnswer is one credential query of a remote request and the
// holder's credential that answers it, with the claims to disclose.
type RemoteAnswer struct {
	QueryID      string
	CredentialID string
	Type         string // the credential's type
	Claims       []string
}

// Bounds of what the wallet side fetches and sends.
const (
	maxRequestObject = 64 << 10
	maxVerifierReply = 16 << 10
)

// isOpenID4VPLink reports whether a scanned text is a request link rather
// than an eidwallet code.
func isOpenID4VPLink(text string) bool {
	for _, p := range []string{openid4vp.SchemeOpenID4VP + "://", openid4vp.SchemeHAIP + "://", "https://"} {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return false
}

// resolveOpenID4VP fetches, judges and stores a standard verifier's
// request for the holder, and shows it: the verifier's certified name (or
// the unverified client identifier), each claim asked with the credential
// that answers it, and the queries nothing answers.
func (s *Service) resolveOpenID4VP(ctx context.Context, p *Principal, link string) (*api.RequestView, error) {
	lr, err := openid4vp.ParseLink(link)
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "qr: %s", err)
	}
	obj, leaf, walletNonce, err := s.fetchRequestObject(ctx, lr)
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	query, err := openid4vp.CheckRequest(obj, lr, leaf, walletNonce)
	tell := openid4vp.ToTell(err)
	if err != nil && tell == "" {
		return nil, Errorf(api.CodeInvalidRequest, "the verifier's request: %s", err)
	}
	rr, rerr := remoteRequest(obj, leaf, s.webhooks.policy)
	if err != nil {
		// §8.2, §5.1: a sound request this wallet cannot answer is told
		// to the verifier, as every error is, encrypted when it can be
		// (§8.3.1).
		if rerr == nil {
			_, _ = s.postRemote(ctx, rr, url.Values{"error": {tell}})
		}
		return nil, Errorf(api.CodeInvalidRequest, "the verifier's request: %s", err)
	}
	if rerr != nil {
		return nil, rerr
	}
	now := s.now().UTC()
	id, err := s.newID("req")
	if err != nil {
		return nil, err
	}
	expires := now.Add(DefaultRequestTTL)
	if obj.Exp > 0 && time.Unix(obj.Exp, 0).Before(expires) {
		expires = time.Unix(obj.Exp, 0).UTC()
	}
	r := &Request{ID: id, HolderID: p.Subject, Status: api.RequestDelivered, Created: now, ExpiresAt: expires,
		Claims: map[string][]string{}, Remote: rr}
	var unsatisfied []string
	err = s.store.Update(ctx, func(tx Tx) error {
		cands, types, err := s.candidates(tx, p.Subject, now)
		if err != nil {
			return err
		}
		chosen, missing := query.Choose(cands)
		unsatisfied = missing
		for _, c := range chosen {
			typ := types[c.CandidateID]
			rr.Chosen = append(rr.Chosen, RemoteAnswer{QueryID: c.QueryID, CredentialID: c.CandidateID, Type: typ, Claims: c.Claims})
			r.Claims[typ] = append(r.Claims[typ], c.Claims...)
		}
		if err := Requests.Put(tx, r); err != nil {
			return err
		}
		return s.appendActivity(tx, &api.ActivityEntry{HolderID: p.Subject, At: now, Event: api.EventRequestReceived, Outcome: "ok",
			VerifierID: rr.ClientID, Claims: requestClaimNames(r.Claims)})
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	view := remoteView(r, now)
	view.Unsatisfied = unsatisfied
	return view, nil
}

// candidates are the holder's usable credentials as DCQL sees them, and
// their types by id.
func (s *Service) candidates(tx Tx, holderID string, now time.Time) ([]openid4vp.Candidate, map[string]string, error) {
	creds, err := Credentials.List(tx, byHolder, Order{Desc: true}, holderID)
	if err != nil {
		return nil, nil, err
	}
	var out []openid4vp.Candidate
	types := map[string]string{}
	for _, c := range creds {
		t, ok := s.types.ByID(c.Type)
		if !ok || credentialUsable(c, now) != nil {
			continue
		}
		claims, err := s.credentialClaims(c)
		if err != nil {
			return nil, nil, err
		}
		if derived, err := t.Derive(claims, now); err == nil {
			claims = derived
		}
		out = append(out, openid4vp.Candidate{ID: c.ID, Format: openid4vp.FormatSDJWTVC, VCT: t.VCT, Claims: claims})
		types[c.ID] = c.Type
	}
	return out, types, nil
}

// remoteView is a remote request as its holder sees it.
func remoteView(r *Request, now time.Time) *api.RequestView {
	rr := r.Remote
	verified := rr.Verified
	view := &api.RequestView{RequestID: r.ID, Status: requestState(r, now), Protocol: api.ProtocolOpenID4VP, Verified: &verified,
		Verifier: api.VerifierParty{ID: rr.ClientID, Name: rr.Name}, Created: r.Created, ExpiresAt: r.ExpiresAt,
		Claims: []api.RequestedClaim{}, RedirectURI: rr.RedirectURI}
	// Registered is false: no registration of a verifier elsewhere says
	// what it may ask for (a certificate names who it is, not that).
	for _, c := range rr.Chosen {
		for _, n := range c.Claims {
			view.Claims = append(view.Claims, api.RequestedClaim{Claim: n, CredentialID: c.CredentialID, Type: c.Type})
		}
	}
	return view
}

// fetchRequestObject fetches the request object of lr (§5.10: POST with a
// fresh wallet_nonce when the link asks for it, else GET), https to a
// public address only, size-capped, no redirects, and verifies it: an
// X.509 chain to a trust anchor, or unsigned for a redirect_uri client.
func (s *Service) fetchRequestObject(ctx context.Context, lr *openid4vp.LinkRequest) (*openid4vp.WalletRequest, *x509.Certificate, string, error) {
	if err := s.webhooks.policy.checkURL(lr.RequestURI); err != nil {
		return nil, nil, "", inField("request_uri", err)
	}
	method, walletNonce, body := http.MethodGet, "", io.Reader(nil)
	if lr.Post {
		b := make([]byte, 16) // §5.10: fresh, 128 bits
		if _, err := io.ReadFull(s.rand, b); err != nil {
			return nil, nil, "", err
		}
		walletNonce = base64.RawURLEncoding.EncodeToString(b)
		md := walletMetadata
		if prefix, _ := openid4vp.ClientIDPrefix(lr.ClientID); prefix == openid4vp.PrefixRedirectURI {
			md = walletMetadataUnsigned // §5.10: no signing algorithms where requests cannot be signed
		}
		form := url.Values{"wallet_nonce": {walletNonce}, "wallet_metadata": {md}}
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, lr.RequestURI, body)
	if err != nil {
		return nil, nil, "", Errorf(api.CodeInvalidRequest, "request_uri is not a URL")
	}
	req.Header.Set("Accept", openid4vp.MediaTypeRequestObject)
	if lr.Post {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	raw, status, mediaType, err := s.outboundTyped(req, maxRequestObject)
	if err == nil && status == http.StatusOK && mediaType != openid4vp.MediaTypeRequestObject {
		err = fmt.Errorf("answered %q, not %s", mediaType, openid4vp.MediaTypeRequestObject) // §5.10.1
	}
	if err != nil || status != http.StatusOK {
		s.log.InfoContext(ctx, "openid4vp request object not fetched", "status", status, "err", outboundFailure(err))
		return nil, nil, "", failed("verifier_unreachable", "the verifier's request could not be fetched")
	}
	token := strings.TrimSpace(string(raw))
	var payload []byte
	var leaf *x509.Certificate
	if prefix, _ := openid4vp.ClientIDPrefix(lr.ClientID); prefix == openid4vp.PrefixRedirectURI {
		payload, err = credentials.UnsignedPayload(token, openid4vp.TypRequestObject)
	} else {
		var roots *x509.CertPool
		if roots, err = s.verifierRoots(ctx); err == nil {
			payload, leaf, err = credentials.VerifyJWTWithChain(token, openid4vp.TypRequestObject, roots, s.now())
		}
	}
	if err != nil {
		if r := credentials.ReasonOf(err); r != "" {
			return nil, nil, "", Errorf(api.CodeInvalidRequest, "the verifier's request object: %s", r)
		}
		return nil, nil, "", err
	}
	var obj openid4vp.WalletRequest
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, nil, "", Errorf(api.CodeInvalidRequest, "the verifier's request object is not a request")
	}
	if err := obj.CheckTimes(s.now(), credentials.DefaultSkew); errors.Is(err, openid4vp.ErrRequestExpired) {
		return nil, nil, "", Errorf(api.CodeShareExpired, "the verifier's request has expired")
	} else if err != nil {
		return nil, nil, "", Errorf(api.CodeInvalidRequest, "the verifier's request: %s", err)
	}
	return &obj, leaf, walletNonce, nil
}

// remoteRequest is what of obj the service keeps to answer it, checked
// now, before any approval can be recorded: the response URI against the
// outbound policy (a verifier's answer must be deliverable, or the log would
// name a disclosure that never happened), and for direct_post.jwt an
// encryption key and encryption this wallet has.
func remoteRequest(obj *openid4vp.WalletRequest, leaf *x509.Certificate, policy outboundPolicy) (*RemoteRequest, error) {
	if err := policy.checkURL(obj.ResponseURI); err != nil {
		return nil, inField("the verifier's request: response_uri", err)
	}
	rr := &RemoteRequest{ClientID: obj.ClientID, Verified: leaf != nil, ResponseURI: obj.ResponseURI,
		ResponseMode: obj.ResponseMode, Nonce: obj.Nonce, State: obj.State}
	_, rr.Name = openid4vp.ClientIDPrefix(obj.ClientID)
	if leaf != nil && len(leaf.Subject.Organization) > 0 {
		rr.Name = leaf.Subject.Organization[0]
	}
	// The verifier's identifier and name are shown on the citizen's
	// consent screen and kept in the activity log: text others read,
	// held to the rule of our own verifiers' names (displayText), so
	// that no line break or bidi override forges what the citizen reads.
	if !utf8.ValidString(rr.ClientID+rr.Name) || !displayText(rr.ClientID) || !displayText(rr.Name) {
		return nil, Errorf(api.CodeInvalidRequest, "the verifier's request: its client identifier or name holds control or format characters")
	}
	if obj.ResponseMode != openid4vp.DirectPostJWT {
		return rr, nil
	}
	if obj.ClientMetadata == nil || obj.ClientMetadata.JWKS == nil {
		return nil, Errorf(api.CodeInvalidRequest, "the verifier's request: direct_post.jwt without client_metadata.jwks")
	}
	if _, _, err := credentials.ResponseEncryptionKey(obj.ClientMetadata.JWKS); err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "the verifier's request: client_metadata.jwks: %s", err)
	}
	rr.EncJWKS = obj.ClientMetadata.JWKS
	// §5.1: A128GCM when none is listed, else one of those listed that
	// this wallet has.
	offered := obj.ClientMetadata.EncryptedResponseEncs
	if offered == nil {
		offered = []string{"A128GCM"}
	}
	for _, enc := range credentials.ResponseEncs {
		if slices.Contains(offered, enc) {
			rr.Enc = enc
		}
	}
	if rr.Enc == "" {
		return nil, Errorf(api.CodeInvalidRequest, "the verifier's request: none of its encryptions is A128GCM or A256GCM")
	}
	return rr, nil
}

// walletMetadata is what the wallet side tells a verifier it supports
// (§10, §5.10); walletMetadataUnsigned the same without signing
// algorithms, for a client whose requests cannot be signed.
const (
	walletMetadataBase = `{"vp_formats_supported":{"dc+sd-jwt":{"sd-jwt_alg_values":["ES256"],"kb-jwt_alg_values":["ES256"]}},` +
		`"client_id_prefixes_supported":["x509_san_dns","x509_hash","redirect_uri"],` +
		`"authorization_encryption_alg_values_supported":["ECDH-ES"],"authorization_encryption_enc_values_supported":["A128GCM","A256GCM"],` +
		`"response_types_supported":["vp_token"]`
	walletMetadata         = walletMetadataBase + `,"request_object_signing_alg_values_supported":["ES256"]}`
	walletMetadataUnsigned = walletMetadataBase + `}`
)

// verifierRoots are the CAs whose verifiers' requests the wallet side
// takes: the operator's (Config.VerifierTrustAnchors) and this service's
// own verifier CA.
func (s *Service) verifierRoots(ctx context.Context) (*x509.CertPool, error) {
	ca, err := s.verifierCA(ctx)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	for _, c := range s.verifierAnchors {
		pool.AddCert(c)
	}
	return pool, nil
}

// outbound sends req with the outbound client (SPEC §6) and reads at most
// max bytes of the answer.
func (s *Service) outbound(req *http.Request, max int64) ([]byte, int, error) {
	b, status, _, err := s.outboundTyped(req, max)
	return b, status, err
}

// outboundTyped is outbound with the answer's media type.
func (s *Service) outboundTyped(req *http.Request, max int64) ([]byte, int, string, error) {
	resp, err := s.webhooks.client.Do(req)
	if err != nil {
		return nil, 0, "", &unreachable{err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	switch {
	case err != nil: // the connection broke mid-answer: said as safely as a failed request
		err = &unreachable{err}
	case int64(len(b)) > max:
		err = fmt.Errorf("answer over %d bytes", max)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return b, resp.StatusCode, mt, err
}

// postRemote posts an authorization response (§8.2) to rr's response URI:
// state added, encrypted for direct_post.jwt (§8.3.1) unless it is an
// error, which may go unencrypted. It returns the verifier's redirect_uri,
// if any.
func (s *Service) postRemote(ctx context.Context, rr *RemoteRequest, params url.Values) (string, error) {
	if rr.State != "" {
		params.Set("state", rr.State)
	}
	form := params
	// Encrypted for direct_post.jwt whenever there is a key, errors too
	// (§8.3.1 lets an error go in clear only when it cannot be).
	if rr.ResponseMode == openid4vp.DirectPostJWT && rr.EncJWKS != nil {
		plain := map[string]any{}
		for k := range params {
			plain[k] = params.Get(k)
		}
		if vp := params.Get("vp_token"); vp != "" {
			plain["vp_token"] = jsontext.Value(vp) // an object in the JWE (§8.3)
		}
		b, err := json.Marshal(plain, json.Deterministic(true))
		if err != nil {
			return "", err
		}
		pub, kid, err := credentials.ResponseEncryptionKey(rr.EncJWKS)
		if err != nil {
			return "", Errorf(api.CodeInvalidRequest, "the verifier's encryption key: %s", err)
		}
		jwe, err := credentials.EncryptResponse(b, pub, kid, rr.Enc)
		if err != nil {
			return "", err
		}
		form = url.Values{"response": {jwe}}
	}
	if err := s.webhooks.policy.checkURL(rr.ResponseURI); err != nil {
		return "", inField("response_uri", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rr.ResponseURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	raw, status, err := s.outbound(req, maxVerifierReply)
	switch {
	case err != nil && status == 0:
		s.log.InfoContext(ctx, "openid4vp response not delivered", "err", outboundFailure(err))
		return "", failed("verifier_unreachable", "the verifier could not be reached")
	case status != http.StatusOK:
		s.log.InfoContext(ctx, "openid4vp response refused by the verifier", "status", status)
		return "", failed("verifier_refused", "the verifier refused the answer")
	case err != nil: // taken (200), its reply over the cap or cut short: delivered, no redirect
		s.log.InfoContext(ctx, "openid4vp reply unread", "err", outboundFailure(err))
		return "", nil
	}
	var ans api.OpenID4VPAnswer
	_ = json.Unmarshal(raw, &ans) // §8.2: unknown members ignored; a missing body is no redirect
	if ans.RedirectURI != "" {
		if u, err := url.Parse(ans.RedirectURI); err != nil || u.Scheme != "https" {
			ans.RedirectURI = "" // only an https redirect is handed to the app
		}
	}
	return ans.RedirectURI, nil
}

// answerRemote sends the approved presentations of r as its VP Token, one
// per credential query, and returns the verifier's redirect_uri.
func (s *Service) answerRemote(ctx context.Context, r *Request, items []ShareItem, docs [][]byte) (string, error) {
	vp := map[string][]string{}
	for i, it := range items {
		raw, err := s.openBytes(docs[i], "share-document", r.ID, it.CredentialID)
		if err != nil {
			return "", err
		}
		var doc api.Document
		if err := json.Unmarshal(raw, &doc); err != nil {
			return "", fmt.Errorf("request %s: sealed document: %w", r.ID, err)
		}
		for _, c := range r.Remote.Chosen {
			if c.CredentialID == it.CredentialID {
				vp[c.QueryID] = append(vp[c.QueryID], doc.Presentation)
			}
		}
	}
	token, err := json.Marshal(vp, json.Deterministic(true))
	if err != nil {
		return "", err
	}
	return s.postRemote(ctx, r.Remote, url.Values{"vp_token": {string(token)}})
}

// requestBinding is what the KB-JWTs answering r carry: its client
// identifier and nonce for a remote request, the verifier's id and the
// request's nonce for ours.
func (s *Service) requestBinding(r *Request) (aud string, nonce func(string) string) {
	if r.Remote != nil {
		return r.Remote.ClientID, everyItem(r.Remote.Nonce)
	}
	return r.VerifierID, everyItem(s.requestNonce(r.ID))
}

// remoteItems are the items answering a remote request: what its DCQL
// query selected at resolve time. The app may name them again, not others.
func remoteItems(r *Request, given []api.ShareRequestItem) ([]api.ShareRequestItem, error) {
	// One presentation per credential, with the claims of every query it
	// answers (§6.1: queries may ask for the same credential; §6.4 allows
	// the larger presentation then).
	var items []api.ShareRequestItem
	// A query of no claims is answered with a presentation of none: the
	// claims no holder can withhold only (iss, vct, cnf, status, the
	// validity; §6.4.1: "the Wallet MUST return only the claims that are
	// mandatory to present").
	for _, c := range r.Remote.Chosen {
		i := slices.IndexFunc(items, func(it api.ShareRequestItem) bool { return it.CredentialID == c.CredentialID })
		if i < 0 {
			items = append(items, api.ShareRequestItem{CredentialID: c.CredentialID})
			i = len(items) - 1
		}
		items[i].Claims = slices.Compact(slices.Sorted(slices.Values(append(items[i].Claims, c.Claims...))))
	}
	if len(items) == 0 {
		return nil, Errorf(api.CodeConflict, "no credential of yours answers this request: decline it")
	}
	if len(given) > 0 && !slices.EqualFunc(given, items, func(a, b api.ShareRequestItem) bool {
		return a.CredentialID == b.CredentialID && slices.Equal(slices.Sorted(slices.Values(a.Claims)), b.Claims)
	}) {
		return nil, Errorf(api.CodeInvalidRequest, "items: a standard verifier's request is answered with what it asked, or declined")
	}
	return items, nil
}

// outboundFailure says why an outbound request failed without its URL,
// which may carry a bearer token in its path (SPEC §6: no tokens in logs).
func outboundFailure(err error) string {
	if err == nil {
		return ""
	}
	if rule := refusedRule(err); rule != "" {
		return "refused: " + rule
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
