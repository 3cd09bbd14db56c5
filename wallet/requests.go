package wallet

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/openid4vp"
	"github.com/eidwallet/eidwallet/qr"
)

// Timing rules of SPEC §3.4.
const (
	DefaultRequestTTL = 120 * time.Second
	MaxRequestTTL     = 600 * time.Second
	PresenceTTL       = 60 * time.Second
)

// derivedToken derives the QR token of a share or request from the token
// key and its id: the store keeps only the token's hash (SPEC §4), yet the
// service can show the QR again; without the master key nobody can.
func (s *Service) derivedToken(kind, id string) string {
	m := hmac.New(sha256.New, s.keys.Token)
	m.Write([]byte(kind + "|" + id))
	token, _ := qr.NewToken(bytes.NewReader(m.Sum(nil)))
	return token
}

// kbNonce derives the KB-JWT nonce of scope from the token key (128 bits,
// base64url): the service can check it without storing it (SPEC §6), and
// nobody without the master key can compute it.
func (s *Service) kbNonce(scope string) string {
	m := hmac.New(sha256.New, s.keys.Token)
	m.Write([]byte("kb-nonce|" + scope))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// requestNonce is the nonce of a request (SPEC §3.4), shown to the
// verifier at creation; every item of its answer is bound to it
// (everyItem).
func (s *Service) requestNonce(requestID string) string { return s.kbNonce("request|" + requestID) }

// everyItem gives every item the same nonce.
func everyItem(nonce string) func(string) string { return func(string) string { return nonce } }

// requestState is the state shown for r at now: expired once its time is
// up and it was not decided.
func requestState(r *Request, now time.Time) string {
	if (r.Status == api.RequestCreated || r.Status == api.RequestDelivered) && !now.Before(r.ExpiresAt) {
		return api.RequestExpired
	}
	return r.Status
}

// CreateRequest makes a request for the calling verifier (SPEC §3.4). It
// may ask only for claims it is registered for (403 otherwise). With a
// presence text it is addressed to that holder at once; without, it gets
// an EIDR1: QR for the verifier to show.
func (s *Service) CreateRequest(ctx context.Context, p *Principal, req api.CreateRequestRequest) (*api.CreateRequestResponse, error) {
	if err := p.require(api.RoleVerifier); err != nil {
		return nil, err
	}
	purpose := strings.TrimSpace(req.Purpose)
	if err := checkText("purpose", purpose, 200); err != nil {
		return nil, err
	}
	ttl := DefaultRequestTTL
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	if ttl <= 0 || ttl > MaxRequestTTL {
		return nil, Errorf(api.CodeInvalidRequest, "ttl_seconds: 1 to %d", int(MaxRequestTTL/time.Second))
	}
	switch req.Protocol {
	case api.ProtocolOpenID4VP:
		return s.createOpenID4VPRequest(ctx, p, req, purpose, ttl)
	case "":
	default:
		return nil, Errorf(api.CodeInvalidRequest, "protocol: empty (EIDR1:) or openid4vp")
	}
	if req.DCQLQuery != nil || req.ClientIDPrefix != "" || req.ResponseMode != "" {
		return nil, Errorf(api.CodeInvalidRequest, "dcql_query, client_id_prefix and response_mode are for protocol openid4vp")
	}
	if err := s.checkClaimSet(req.Claims); err != nil {
		return nil, err
	}
	var presenceHash []byte
	if req.Presence != "" {
		kind, token, err := qr.Parse(req.Presence)
		if err != nil || kind != qr.Presence {
			return nil, Errorf(api.CodeInvalidRequest, "presence: not an eidwallet presence code (EIDP1:)")
		}
		presenceHash = hashSecret(token)
	}
	id, err := s.newID("req")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	r := &Request{ID: id, VerifierID: p.Subject, Status: api.RequestCreated, Claims: req.Claims, Purpose: purpose,
		Created: now, ExpiresAt: now.Add(ttl)}
	resp := &api.CreateRequestResponse{RequestID: id, Status: api.RequestCreated, ExpiresAt: r.ExpiresAt, Nonce: s.requestNonce(id)}
	if presenceHash == nil {
		token := s.derivedToken("request", id)
		r.TokenHash = hashSecret(token)
		resp.QRText = qr.Text(qr.Request, token)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		v, err := Verifiers.Get(tx, p.Subject)
		if err != nil {
			return err
		}
		if err := notRetired(v); err != nil {
			return err
		}
		// Issue 4: a request the verifier is not registered for is refused.
		if !registered(v, req.Claims) {
			return Errorf(api.CodeForbidden, "the verifier is not registered for every claim asked")
		}
		if presenceHash != nil {
			pr, err := Presences.Get(tx, presenceHash)
			if errors.Is(err, ErrNotFound) || (err == nil && (pr.Used || !now.Before(pr.Expires))) {
				return Errorf(api.CodeNotFound, "presence code not found, used or expired")
			} else if err != nil {
				return err
			}
			// A presence code addresses one request (SPEC §4: single use).
			pr.Used = true
			if err := Presences.Put(tx, pr); err != nil {
				return err
			}
			r.HolderID = pr.HolderID
			if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: r.HolderID, At: now, Event: api.EventRequestReceived, Outcome: "ok",
				VerifierID: v.ID, Claims: requestClaimNames(r.Claims)}); err != nil {
				return err
			}
		}
		if err := Requests.Put(tx, r); err != nil {
			return err
		}
		return s.appendVerification(tx, &api.Verification{VerifierID: v.ID, At: now, RequestID: r.ID, Result: "requested", Claims: requestClaimNames(r.Claims)})
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	if r.HolderID != "" {
		s.notify(ctx, holderKey(r.HolderID))
	}
	s.log.InfoContext(ctx, "request created", "verifier_id", p.Subject, "verifier_request_id", id, "presence", presenceHash != nil)
	return resp, nil
}

// registered reports whether v may ask for every claim of set.
func registered(v *Verifier, set map[string][]string) bool { return covers(v.Claims, set) }

// covers reports whether claims holds every claim of set.
func covers(claims, set map[string][]string) bool {
	for typ, names := range set {
		for _, n := range names {
			if !slices.Contains(claims[typ], n) {
				return false
			}
		}
	}
	return true
}

func requestClaimNames(set map[string][]string) []string {
	var out []string
	for typ, names := range set {
		for _, n := range names {
			out = append(out, typ+"."+n)
		}
	}
	sort.Strings(out)
	return out
}

// RequestQR returns the EIDR1: text of one of the verifier's requests
// while it can still be resolved.
func (s *Service) RequestQR(ctx context.Context, p *Principal, id string) (string, error) {
	if err := p.require(api.RoleVerifier); err != nil {
		return "", err
	}
	var out string
	err := s.store.View(ctx, func(tx Tx) error {
		r, err := Requests.Get(tx, id)
		if err := mine(err, "request", func() bool { return r.VerifierID == p.Subject && len(r.TokenHash) > 0 }); err != nil {
			return err
		}
		st := requestState(r, s.now())
		switch {
		case st == api.RequestExpired:
			return Errorf(api.CodeShareExpired, "the request has expired")
		case r.OpenID4VP != nil && (st == api.RequestCreated || st == api.RequestDelivered):
			// Fetched by one wallet, it can still be scanned by another
			// until it is answered.
			out = s.openID4VPLink(r, openid4vp.SchemeOpenID4VP)
			return nil
		case st == api.RequestCreated:
			out = qr.Text(qr.Request, s.derivedToken("request", r.ID))
			return nil
		}
		return Errorf(api.CodeConflict, "the request was already resolved")
	})
	return out, s.storeErr(ctx, err, "request")
}

// CreatePresence makes the holder's presence code: 60 seconds, no data
// (SPEC §3.4).
func (s *Service) CreatePresence(ctx context.Context, p *Principal) (*api.PresenceResponse, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	token, err := qr.NewToken(s.rand)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	pr := &Presence{TokenHash: hashSecret(token), HolderID: p.Subject, Expires: now.Add(PresenceTTL)}
	if err := s.store.Update(ctx, func(tx Tx) error { return Presences.Put(tx, pr) }); err != nil {
		return nil, s.storeErr(ctx, err, "presence")
	}
	return &api.PresenceResponse{QRText: qr.Text(qr.Presence, token), ExpiresAt: pr.Expires}, nil
}

// ResolveRequest binds a scanned EIDR1: request to the calling holder and
// shows it: the verifier's registered name and category, the purpose and
// the claims, each flagged when outside the verifier's registration. A
// request is resolved once; another holder gets 404 (THREATS T18).
func (s *Service) ResolveRequest(ctx context.Context, p *Principal, req api.ResolveRequest) (*api.RequestView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	if isOpenID4VPLink(req.QR) {
		return s.resolveOpenID4VP(ctx, p, req.QR)
	}
	kind, token, err := qr.Parse(req.QR)
	if err != nil || kind != qr.Request {
		return nil, Errorf(api.CodeInvalidRequest, "qr: not an eidwallet request code (EIDR1:) nor an OpenID4VP link")
	}
	now := s.now().UTC()
	var view *api.RequestView
	var r *Request
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		r, err = Requests.By(tx, byToken, hashSecret(token))
		// An OpenID4VP request is a standard wallet's to answer, never
		// through this flow (its token is in its public link).
		if err := mine(err, "request", func() bool { return r.OpenID4VP == nil && (r.HolderID == "" || r.HolderID == p.Subject) }); err != nil {
			return err
		}
		switch requestState(r, now) {
		case api.RequestExpired:
			return Errorf(api.CodeShareExpired, "the request has expired")
		case api.RequestCreated:
		default:
			return Errorf(api.CodeConflict, "the request was already resolved")
		}
		r.HolderID, r.Status = p.Subject, api.RequestDelivered
		if err := Requests.Put(tx, r); err != nil {
			return err
		}
		if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: p.Subject, At: now, Event: api.EventRequestReceived, Outcome: "ok",
			VerifierID: r.VerifierID, Claims: requestClaimNames(r.Claims)}); err != nil {
			return err
		}
		view, err = s.requestView(tx, r, now)
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	s.notify(ctx, requestKey(r.ID))
	return view, nil
}

// requestView is r as its holder sees it, with its verifier read in tx.
func (s *Service) requestView(tx Tx, r *Request, now time.Time) (*api.RequestView, error) {
	if r.Remote != nil {
		return remoteView(r, now), nil
	}
	v, err := Verifiers.Get(tx, r.VerifierID)
	if err != nil {
		return nil, err
	}
	return viewRequest(r, v, now), nil
}

// viewRequest is r, of verifier v, as its holder sees it.
func viewRequest(r *Request, v *Verifier, now time.Time) *api.RequestView {
	view := &api.RequestView{RequestID: r.ID, Status: requestState(r, now), Verifier: api.VerifierParty{ID: v.ID, Name: v.Name, Category: v.Category},
		Purpose: r.Purpose, Created: r.Created, ExpiresAt: r.ExpiresAt, Claims: []api.RequestedClaim{}}
	types := make([]string, 0, len(r.Claims))
	for typ := range r.Claims {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		for _, n := range r.Claims[typ] {
			view.Claims = append(view.Claims, api.RequestedClaim{Type: typ, Claim: n, Registered: slices.Contains(v.Claims[typ], n)})
		}
	}
	return view
}

// HolderRequests lists the requests waiting for the holder's answer.
// Listing delivers them (created → delivered). With wait, it long-polls:
// it returns as soon as a request arrives that was not delivered before,
// or after wait (at most MaxWait); requests the app has already seen do
// not end the wait, so an app can poll in a loop (ask with no wait once at
// start to see those).
//
// It is a page of them, newest first (pg: limit and cursor); a request
// lives at most MaxRequestTTL, so the list reads only the holder's
// requests made since then.
func (s *Service) HolderRequests(ctx context.Context, p *Principal, wait time.Duration, pg api.Page) (*api.RequestList, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "requests", p.Subject)
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(min(max(wait, 0), api.MaxWait))
	defer deadline.Stop()
	for {
		// Watch before looking, so that a request arriving in between is
		// not missed.
		changed, stop := s.notifier.Watch(holderKey(p.Subject))
		views, fresh, err := s.pendingRequests(ctx, p, pgr)
		if err != nil || fresh || wait <= 0 {
			stop()
			return views, err
		}
		select {
		case <-changed:
		case <-deadline.C:
			stop()
			return views, nil
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
}

// pendingRequests lists a page of the holder's undecided requests and
// reports whether any of them was delivered by this call.
func (s *Service) pendingRequests(ctx context.Context, p *Principal, pgr *pager) (*api.RequestList, bool, error) {
	now := s.now().UTC()
	// Every request expires within MaxRequestTTL of its creation, so one
	// made before now minus that is no longer pending, nor is any older.
	pending := func(r *Request) (bool, bool) {
		st := requestState(r, now)
		return st == api.RequestCreated || st == api.RequestDelivered, r.Created.After(now.Add(-MaxRequestTTL))
	}
	views := &api.RequestList{}
	var undelivered []string
	err := s.store.View(ctx, func(tx Tx) error {
		views.Requests, undelivered = []*api.RequestView{}, nil
		all, next, err := listPage(tx, pgr, Requests, byHolder, true, pending, p.Subject)
		if err != nil {
			return err
		}
		views.NextCursor = next
		for _, r := range all {
			st := requestState(r, now)
			if st == api.RequestCreated {
				undelivered = append(undelivered, r.ID)
			}
			v, err := s.requestView(tx, r, now)
			if err != nil {
				return err
			}
			v.Status = api.RequestDelivered
			views.Requests = append(views.Requests, v)
		}
		return nil
	})
	if err != nil || len(undelivered) == 0 {
		return views, false, s.storeErr(ctx, err, "requests")
	}
	// Listing them delivered them: record it (a write only when needed,
	// since a long-poll may list often).
	err = s.store.Update(ctx, func(tx Tx) error {
		for _, id := range undelivered {
			r, err := Requests.Get(tx, id)
			if err != nil {
				return err
			}
			if r.Status == api.RequestCreated {
				r.Status = api.RequestDelivered
				if err := Requests.Put(tx, r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, s.storeErr(ctx, err, "requests")
	}
	for _, id := range undelivered {
		s.notify(ctx, requestKey(id))
	}
	return views, true, nil
}

// holderRequest loads one of the holder's requests (404 for anyone else's).
func holderRequest(tx Tx, p *Principal, id string) (*Request, error) {
	r, err := Requests.Get(tx, id)
	if err := mine(err, "request", func() bool { return r.HolderID == p.Subject }); err != nil {
		return nil, err
	}
	return r, nil
}

// PrepareRequest makes the presentations answering a request, for the
// calling device to bind with KB-JWTs whose aud is the verifier's id and
// whose nonce is the request's (SPEC §3.4). The citizen may answer with
// fewer claims than asked, never more.
func (s *Service) PrepareRequest(ctx context.Context, p *Principal, id string, req api.PrepareRequest) (*api.RequestPrepared, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	resp := &api.RequestPrepared{RequestID: id}
	// Prepared in a read transaction, then written in a short one that
	// checks the request is still undecided.
	var items []ShareItem
	var copies []copyChange
	err := s.viewCopies(ctx, p.DeviceID, func(tx Tx) error {
		r, err := holderRequest(tx, p, id)
		if err != nil {
			return err
		}
		if err := undecided(r, now); err != nil {
			return err
		}
		// The share machinery builds each presentation, bound for the
		// verifier with the request's nonce. A standard verifier's request
		// is answered with what its DCQL query selected (a wallet sends
		// what the query asks or nothing, OpenID4VP 1.0 §6.4.1).
		chosen := req.Items
		if r.Remote != nil {
			if chosen, err = remoteItems(r, req.Items); err != nil {
				return err
			}
		} else if err := claimsChosen(chosen); err != nil {
			return err
		}
		aud, nonce := s.requestBinding(r)
		if items, resp.ToSign, copies, err = s.prepareItems(tx, p, r.ID, aud, nonce, chosen, now); err != nil {
			return err
		}
		for _, item := range items {
			for _, c := range item.Claims {
				if !slices.Contains(r.Claims[item.Type], c) {
					return Errorf(api.CodeInvalidRequest, "claims: %s.%s was not asked for", item.Type, c)
				}
			}
		}
		return nil
	})
	if err == nil {
		err = s.store.Update(ctx, func(tx Tx) error {
			r, err := holderRequest(tx, p, id)
			if err != nil {
				return err
			}
			if err := undecided(r, now); err != nil {
				return err
			}
			if err := putCopies(tx, p.DeviceID, copies); err != nil {
				return err
			}
			r.Items, r.DeviceID, r.Status = items, p.DeviceID, api.RequestDelivered
			return Requests.Put(tx, r)
		})
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	return resp, nil
}

// undecided is the request state machine before an answer.
func undecided(r *Request, now time.Time) error {
	switch requestState(r, now) {
	case api.RequestExpired:
		return Errorf(api.CodeShareExpired, "the request has expired")
	case api.RequestApproved, api.RequestDeclined:
		return Errorf(api.CodeConflict, "the request was already answered")
	}
	return nil
}

// ApproveRequest checks the device's KB-JWTs (RFC 9901 §7.3: aud the
// verifier's id, nonce the request's) and answers the request once; the
// verifier learns the result by long-poll, events or its webhook.
//
// The KB-JWTs are verified before the write transaction, which re-checks
// only state: still undecided, the same preparation, nothing revoked since.
func (s *Service) ApproveRequest(ctx context.Context, p *Principal, id string, req api.ApproveRequest) (*api.RequestView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var r *Request
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if r, err = holderRequest(tx, p, id); err != nil {
			return err
		}
		if err := undecided(r, now); err != nil {
			return err
		}
		return preparedOn(r, p)
	})
	var items []ShareItem
	var docs [][]byte
	if err == nil {
		aud, nonce := s.requestBinding(r)
		items, docs, err = s.verifyItems(ctx, p, r.ID, aud, nonce, r.Items, req.KBJWTs, now)
	}
	if err != nil {
		s.tallyRefusedAnswer(ctx, r, err)
		return nil, s.storeErr(ctx, err, "request")
	}
	view, err := s.decide(ctx, p, id, func(tx Tx, cur *Request, now time.Time) error {
		if err := preparedOn(cur, p); err != nil {
			return err
		}
		// Prepared again meanwhile: what was signed is not what is there.
		if !slices.EqualFunc(cur.Items, items, func(a, b ShareItem) bool { return a.CredentialID == b.CredentialID && a.SDHash == b.SDHash }) {
			return Errorf(api.CodeConflict, "the answer was prepared again; sign the new one")
		}
		if err := s.spendValid(tx, p.DeviceID, items, now); err != nil {
			return err
		}
		cur.Items, cur.Status = items, api.RequestApproved
		return ShareDocuments.Put(tx, docs, cur.ID)
	})
	s.approved(p.DeviceID, err)
	s.tallyRefusedAnswer(ctx, r, err)
	// A standard verifier gets the VP Token once the approval (and the
	// activity entry naming what it discloses) is durable: one decision
	// only ever sends, and nothing leaves that the log does not name.
	if err != nil || r.Remote == nil {
		return view, err
	}
	redirect, err := s.answerRemote(ctx, r, items, docs)
	if err != nil {
		return nil, err
	}
	if redirect != "" {
		view.RedirectURI = redirect
		if err := s.store.Update(ctx, func(tx Tx) error {
			cur, err := Requests.Get(tx, r.ID)
			if err != nil {
				return err
			}
			cur.Remote.RedirectURI = redirect
			return Requests.Put(tx, cur)
		}); err != nil {
			s.log.WarnContext(ctx, "openid4vp redirect_uri not recorded", "verifier_request_id", r.ID, "err", err)
		}
	}
	return view, nil
}

// tallyRefusedAnswer counts an approval of r that failed a check
// (verification_failed: a KB-JWT, or what changed since the
// preparation), which wrote nothing; any other refusal is the app's
// misstep, not a verification.
func (s *Service) tallyRefusedAnswer(ctx context.Context, r *Request, err error) {
	if r != nil && ErrorCode(err) == api.CodeVerificationFailed {
		s.tally(requestUsage(ctx, r).failed(err))
	}
}

// preparedOn reports whether r's answer was prepared on the calling
// device, the only one that may approve it.
func preparedOn(r *Request, p *Principal) error {
	if len(r.Items) == 0 || r.DeviceID != p.DeviceID {
		return Errorf(api.CodeConflict, "prepare the answer on this device first")
	}
	return nil
}

// DeclineRequest answers no, explicitly.
func (s *Service) DeclineRequest(ctx context.Context, p *Principal, id string) (*api.RequestView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	// A standard verifier is told (OpenID4VP 1.0 §8.5: access_denied);
	// the decline stands even when it cannot be reached.
	var r *Request
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if r, err = holderRequest(tx, p, id); err == nil {
			err = undecided(r, s.now())
		}
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	view, err := s.decide(ctx, p, id, func(tx Tx, r *Request, now time.Time) error {
		r.Status, r.Items = api.RequestDeclined, nil
		return nil
	})
	// Recorded first, then the verifier told; the decline stands even
	// when it cannot be reached.
	if err == nil && r.Remote != nil {
		if _, err := s.postRemote(ctx, r.Remote, url.Values{"error": {"access_denied"}}); err != nil {
			s.log.InfoContext(ctx, "openid4vp decline not delivered", "verifier_request_id", r.ID)
		}
	}
	return view, err
}

// decide runs one transition of the holder's request to a final state
// (answer).
func (s *Service) decide(ctx context.Context, p *Principal, id string, apply func(Tx, *Request, time.Time) error) (*api.RequestView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	return s.answer(ctx, id, func(tx Tx) (*Request, error) { return holderRequest(tx, p, id) }, apply)
}

// answer runs one transition to a final state on the request load reads,
// logs it on both sides (the holder's, when it has one: an OpenID4VP
// answer comes from a wallet not ours), queues the webhook and wakes
// whoever waits for it.
func (s *Service) answer(ctx context.Context, id string, load func(Tx) (*Request, error), apply func(Tx, *Request, time.Time) error) (*api.RequestView, error) {
	now := s.now().UTC()
	var r *Request
	var view *api.RequestView
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if r, err = load(tx); err != nil {
			return err
		}
		if err := undecided(r, now); err != nil {
			return err
		}
		if err := apply(tx, r, now); err != nil {
			return err
		}
		r.Decided = &now
		if err := Requests.Put(tx, r); err != nil {
			return err
		}
		event, result := api.EventRequestApproved, "approved"
		claims := itemClaimNames(r.Items)
		if r.Status == api.RequestDeclined {
			event, result, claims = api.EventRequestDeclined, "declined", nil
		}
		if r.HolderID != "" {
			verifier := r.VerifierID
			if r.Remote != nil {
				verifier = r.Remote.ClientID
			}
			if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: r.HolderID, At: now, Event: event, Outcome: r.Status,
				VerifierID: verifier, Claims: claims}); err != nil {
				return err
			}
		}
		counted := requestUsage(ctx, r).valid() // usage.go
		if r.Status == api.RequestDeclined {
			counted = counted.failedWith(api.RequestDeclined)
		}
		if r.Remote != nil { // a verifier elsewhere: no log nor webhook of ours
			view = remoteView(r, now)
			return s.count(tx, counted)
		}
		if err := s.appendVerification(tx, &api.Verification{VerifierID: r.VerifierID, At: now, RequestID: r.ID, Result: result,
			Claims: claims, Types: itemTypes(r.Items)}); err != nil {
			return err
		}
		// The webhook's delivery is queued with the decision, so neither
		// is ever without the other (issue 10: a durable outbox).
		v, err := Verifiers.Get(tx, r.VerifierID)
		if err != nil {
			return err
		}
		if err := s.queueWebhook(tx, r, v, now); err != nil {
			return err
		}
		view = viewRequest(r, v, now)
		counted.category = dimension(v.Category)
		return s.count(tx, counted)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	s.notify(ctx, requestKey(r.ID))
	s.log.InfoContext(ctx, "request answered", "holder_id", r.HolderID, "verifier_request_id", r.ID, "status", r.Status)
	s.webhooks.wake()
	return view, nil
}

// HolderRequest shows one of the holder's requests.
func (s *Service) HolderRequest(ctx context.Context, p *Principal, id string) (*api.RequestView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	var view *api.RequestView
	err := s.store.View(ctx, func(tx Tx) error {
		r, err := holderRequest(tx, p, id)
		if err != nil {
			return err
		}
		view, err = s.requestView(tx, r, s.now())
		return err
	})
	return view, s.storeErr(ctx, err, "request")
}

// VerifierRequest is the verifier's view of its request, with the
// approved documents once approved. With wait it long-polls until the
// request changes from the state given in since ("" : any undecided
// state ends the wait only by a decision or expiry) or wait passes.
func (s *Service) VerifierRequest(ctx context.Context, p *Principal, id string, wait time.Duration, since string) (*api.RequestResult, error) {
	if err := p.require(api.RoleVerifier); err != nil {
		return nil, err
	}
	deadline := time.NewTimer(min(max(wait, 0), api.MaxWait))
	defer deadline.Stop()
	for {
		changed, stop := s.notifier.Watch(requestKey(id))
		res, err := s.requestResult(ctx, p.Subject, id)
		if err != nil {
			stop()
			return nil, err
		}
		final := res.Status != api.RequestCreated && res.Status != api.RequestDelivered
		if wait <= 0 || final || (since != "" && res.Status != since) {
			stop()
			return res, nil
		}
		// An undecided request expires without anyone notifying: wake
		// when it does, by the service's clock.
		expiry := time.NewTimer(res.ExpiresAt.Sub(s.now()) + 10*time.Millisecond)
		var done bool
		select {
		case <-changed:
		case <-expiry.C:
		case <-deadline.C:
			done = true
		case <-ctx.Done():
			expiry.Stop()
			stop()
			return nil, ctx.Err()
		}
		expiry.Stop()
		stop()
		if done {
			return res, nil
		}
	}
}

// requestResult builds RequestResult for the verifier that owns the
// request (404 for anyone else).
func (s *Service) requestResult(ctx context.Context, verifierID, id string) (*api.RequestResult, error) {
	now := s.now().UTC()
	var res *api.RequestResult
	var docs []api.Document
	var r *Request
	var v *Verifier
	var oid4vpDocs []byte
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		r, err = Requests.Get(tx, id)
		if err := mine(err, "request", func() bool { return r.VerifierID == verifierID }); err != nil {
			return err
		}
		res = &api.RequestResult{RequestID: r.ID, Status: requestState(r, now), ExpiresAt: r.ExpiresAt, Nonce: s.requestNonce(r.ID)}
		if r.Status != api.RequestApproved {
			return nil
		}
		// An answer is a redemption too: checked again against what can
		// change after the approval each time it is handed out (SPEC §3.7).
		// The verifier and the documents are read with its first Fetch;
		// a retired verifier gets nothing.
		asker := func(body []byte) (err error) {
			if v, err = Verifiers.Fetched(body, verifierID); err != nil {
				return err
			}
			return notRetired(v)
		}
		if r.OpenID4VP != nil { // checked after this transaction: an external status may be fetched
			got, err := tx.Fetch(Verifiers.Lookup("", verifierID), ShareDocuments.Lookup(r.ID))
			if err != nil {
				return err
			}
			if err := asker(got[0]); err != nil {
				return err
			}
			if oid4vpDocs = got[1]; oid4vpDocs == nil { // approved, so they must be there: fail closed
				return errDamaged()
			}
			return nil
		}
		more, err := s.stillValid(tx, r.DeviceID, r.Items, now, Verifiers.Lookup("", verifierID), ShareDocuments.Lookup(r.ID))
		if err != nil {
			return err
		}
		if err := asker(more[0]); err != nil {
			return err
		}
		docs, err = s.openDocuments(r.ID, r.Items, more[1])
		return err
	})
	if err == nil && oid4vpDocs != nil {
		docs, err = s.openID4VPResult(ctx, r, oid4vpDocs)
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "request")
	}
	if r.Status == api.RequestApproved {
		res.Result = &api.VerifyResponse{Result: "valid", ShareID: r.ID, VerifiedAt: *r.Decided, Verifier: api.Party{ID: v.ID, Name: v.Name},
			Documents: docs}
	}
	return res, nil
}
