package wallet

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/go-json-experiment/json"
)

// DefaultWebhookRetries are the waits between webhook attempts: six
// attempts over about half a minute, then the result stays available by
// polling (issue 4: retried with backoff, bounded).
func DefaultWebhookRetries() []time.Duration {
	return []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
}

// Webhook deliveries go through a durable outbox (issue 10): the
// transaction that decides a request also writes a WebhookDelivery, and a
// dispatcher in every process claims due deliveries, posts them and records
// each attempt. So a restart or a dead replica loses none, and any replica
// may deliver what another queued.
//
// A claim is a conditional write in one store transaction: the delivery is
// still pending and due, and the claim moves its due time to the end of a
// lease. Under the store's transactions only one of several replicas
// claiming together wins (bbolt has one writer; PostgreSQL runs it
// SERIALIZABLE and retries the loser, which then finds it not due). A
// replica that dies holding a claim leaves it to be claimed again when the
// lease ends. Each delivery carries its id in the api.WebhookIDHeader
// header, the same on every attempt, for receivers to deduplicate: a
// receiver may see one twice when a replica died after posting and before
// recording it.
const (
	// outboxPoll is how often a dispatcher looks for due deliveries when
	// nothing tells it to (another replica's deliveries, lease ends).
	outboxPoll = time.Second
	// outboxBatch is how many due deliveries a dispatcher looks at a time.
	outboxBatch = 32
	// maxInFlight bounds a process's attempts in flight: slow receivers
	// cannot hold a goroutine each without end.
	maxInFlight = 16
	// webhookRetention is how long a delivered or failed delivery is kept,
	// for operators, before it is deleted.
	webhookRetention = 7 * 24 * time.Hour
	// pendingCounted caps the pending count of WebhookStats.
	pendingCounted = 10000
)

// WebhookLease is how long a claim holds a delivery: longer than an
// attempt can take (10 s), so that only a dead replica's claim runs out.
const WebhookLease = 3 * webhookTimeout

// Delivery states: pending until delivered, or failed after the last
// attempt or when the result cannot be sent.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one request result to post to a verifier's webhook,
// a record of the outbox (WebhookDeliveries). It holds ids only: the
// result is built again, and checked again (SPEC §3.7), at each attempt.
type WebhookDelivery struct {
	ID         string // sent as api.WebhookIDHeader, the same on every attempt
	VerifierID string
	RequestID  string
	Created    time.Time
	State      string
	// Due is when a replica may next claim a pending delivery: when it
	// was queued, the end of a claim's lease, or the next retry.
	Due         time.Time
	Lease       string // the claim holding it; "" between attempts
	Attempts    int    // attempts begun
	LastStatus  int    // the receiver's status at the last attempt; 0: none
	LastFailure string // why the last attempt failed, as logged; "" once delivered
	Done        *time.Time
	Expires     time.Time // when a delivered or failed delivery is deleted
}

type webhooks struct {
	policy  outboundPolicy
	client  *http.Client
	retries []time.Duration
	kick    chan struct{} // wakes the dispatcher: a delivery queued, an attempt ended
	slots   chan struct{} // one per attempt in flight
	stop    chan struct{}
	running sync.WaitGroup
	mu      sync.Mutex
	closed  bool

	delivered, failed, attempts atomic.Int64 // by this process, for metrics
}

// newWebhooks delivers under the outbound policy of SPEC §6 (outbound.go),
// waiting retries between attempts (nil: DefaultWebhookRetries).
func newWebhooks(allowLoopback bool, retries []time.Duration, roots *x509.CertPool) webhooks {
	p := outboundPolicy{allowLoopback: allowLoopback}
	if retries == nil {
		retries = DefaultWebhookRetries()
	}
	return webhooks{policy: p, client: newOutboundClient(p, roots), retries: retries, stop: make(chan struct{}),
		kick: make(chan struct{}, 1), slots: make(chan struct{}, maxInFlight)}
}

// wake tells the dispatcher to look now.
func (w *webhooks) wake() {
	select {
	case w.kick <- struct{}{}:
	default: // it will look anyway
	}
}

// SetVerifierWebhook sets (or with an empty URL removes) the URL a
// verifier's request results are posted to, and returns a new signing
// secret, shown once and stored sealed.
func (s *Service) SetVerifierWebhook(ctx context.Context, p *Principal, verifierID string, req api.WebhookRequest) (*api.WebhookResponse, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if req.URL == nil {
		return nil, Errorf(api.CodeInvalidRequest, `url is required ("" removes the webhook)`)
	}
	url := *req.URL
	resp := &api.WebhookResponse{URL: url}
	var sealed []byte
	if url != "" {
		if err := s.webhooks.policy.checkURL(url); err != nil {
			return nil, err
		}
		secret, err := s.newSecret("whsec_")
		if err != nil {
			return nil, err
		}
		if sealed, err = s.sealBytes([]byte(secret), "verifier-webhook", verifierID); err != nil {
			return nil, err
		}
		resp.Secret = secret
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		v, err := Verifiers.Get(tx, verifierID)
		if err != nil {
			return err
		}
		v.WebhookURL, v.WebhookSecret = url, sealed
		return Verifiers.Put(tx, v)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "verifier")
	}
	s.log.InfoContext(ctx, "verifier webhook set", "verifier_id", verifierID, "enabled", url != "")
	return resp, nil
}

// queueWebhook writes, in the transaction tx that decided r, the delivery
// of r's result to its verifier v's webhook, if it has one.
func (s *Service) queueWebhook(tx Tx, r *Request, v *Verifier, now time.Time) error {
	if v.WebhookURL == "" {
		return nil
	}
	id, err := s.newID("whk")
	if err != nil {
		return err
	}
	return WebhookDeliveries.Put(tx, &WebhookDelivery{ID: id, VerifierID: r.VerifierID, RequestID: r.ID, Created: now,
		State: DeliveryPending, Due: now})
}

// startDispatcher runs the process's background loop until Close: the
// webhook dispatcher, and once a minute the pruning of full rate buckets
// and of done deliveries past retention.
func (s *Service) startDispatcher() {
	w := &s.webhooks
	ctx, cancel := context.WithCancel(context.Background())
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		defer cancel()
		go func() {
			<-w.stop
			cancel()
		}()
		w.running.Add(2)
		go func() {
			defer w.running.Done()
			s.runRefills(ctx)
		}()
		go func() {
			defer w.running.Done()
			s.runTally(ctx) // usage.go
		}()
		var pruned time.Time
		for {
			if now := s.now(); now.Sub(pruned) >= rateBucketPrune {
				s.pruneRateBuckets(ctx)
				s.sweepDeliveries(ctx)
				s.sweepCompactCodes(ctx)
				s.sweepIdempotentAnswers(ctx)
				// Off this loop: a slow issuer must not hold up webhooks.
				if s.refreshing.CompareAndSwap(false, true) {
					w.running.Add(1)
					go func() {
						defer w.running.Done()
						defer s.refreshing.Store(false)
						s.refreshExternalIssuers(ctx)
					}()
				}
				pruned = now
			}
			wait := s.dispatchDue(ctx)
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
			case <-time.After(wait):
			}
		}
	}()
}

// dispatchDue claims the deliveries due now and starts their attempts. It
// returns how long to wait before looking again: until the next due
// delivery it saw, at most outboxPoll.
func (s *Service) dispatchDue(ctx context.Context) time.Duration {
	w := &s.webhooks
	now := s.now().UTC()
	var due []*WebhookDelivery
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		due, err = WebhookDeliveries.List(tx, byDue, Order{Limit: outboxBatch})
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "webhook outbox: list due deliveries", "err", err)
		}
		return outboxPoll
	}
	for _, d := range due {
		if d.Due.After(now) {
			return min(d.Due.Sub(now), outboxPoll) // listed by due time: the rest are later
		}
		select {
		case w.slots <- struct{}{}:
		default:
			return outboxPoll // every slot busy: the first attempt to end wakes the dispatcher
		}
		claimed := s.claim(ctx, d.ID, now)
		if claimed == nil {
			<-w.slots
			continue
		}
		w.running.Add(1)
		go func() {
			defer w.running.Done()
			defer w.wake() // a retry may be due before the next poll
			defer func() { <-w.slots }()
			s.attempt(ctx, claimed)
		}()
	}
	if len(due) == outboxBatch {
		return 0 // more may be due behind these
	}
	return outboxPoll
}

// claim takes delivery id for one attempt if it is still pending and due
// at now, and returns it with its lease; nil when another replica has it,
// it is done, or the store failed (logged). A delivery whose every attempt
// was begun, the last by a replica that died before recording it, is
// marked failed instead.
func (s *Service) claim(ctx context.Context, id string, now time.Time) *WebhookDelivery {
	lease, err := s.newID("lease")
	if err != nil {
		s.log.ErrorContext(ctx, "webhook outbox: claim", "webhook_id", id, "err", err)
		return nil
	}
	var claimed, exhausted *WebhookDelivery
	err = s.store.Update(ctx, func(tx Tx) error {
		claimed, exhausted = nil, nil
		d, err := WebhookDeliveries.Get(tx, id)
		if errors.Is(err, ErrNotFound) {
			return nil // deleted meanwhile
		} else if err != nil {
			return err
		}
		if d.State != DeliveryPending || d.Due.After(now) {
			return nil // claimed or finished by another replica
		}
		if d.Attempts > len(s.webhooks.retries) {
			finish(d, DeliveryFailed, now)
			exhausted = d
			return WebhookDeliveries.Put(tx, d)
		}
		d.Attempts++
		d.Lease, d.Due = lease, now.Add(WebhookLease)
		claimed = d
		return WebhookDeliveries.Put(tx, d)
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "webhook outbox: claim", "webhook_id", id, "err", err)
		}
		return nil
	}
	if exhausted != nil {
		s.webhooks.failed.Add(1)
		s.log.WarnContext(ctx, "webhook undelivered; the result stays available by polling", "webhook_id", id,
			"verifier_id", exhausted.VerifierID, "verifier_request_id", exhausted.RequestID, "attempts", exhausted.Attempts,
			"failure", exhausted.LastFailure, "status", exhausted.LastStatus)
	}
	return claimed
}

// finish ends d in state.
func finish(d *WebhookDelivery, state string, now time.Time) {
	d.State, d.Lease, d.Done, d.Expires = state, "", &now, now.Add(webhookRetention)
}

// attempt makes one attempt of the claimed delivery d and records it.
func (s *Service) attempt(ctx context.Context, d *WebhookDelivery) {
	logArgs := []any{"webhook_id", d.ID, "verifier_id", d.VerifierID, "verifier_request_id", d.RequestID}
	target, secret, body, notSent := s.webhookBody(ctx, d)
	if notSent != "" {
		if s.settle(ctx, d, func(cur *WebhookDelivery, now time.Time) {
			cur.LastFailure = notSent
			finish(cur, DeliveryFailed, now)
		}) {
			s.webhooks.failed.Add(1) // a lost claim is the other replica's to count
		}
		return
	}
	if body == nil {
		s.release(d) // the store failed: another attempt soon
		return
	}
	status, err := s.post(ctx, target, d.ID, secret, body)
	if ctx.Err() != nil {
		s.release(d) // shutting down: the attempt is not counted
		return
	}
	s.webhooks.attempts.Add(1)
	if err == nil && status >= 200 && status < 300 {
		if s.settle(ctx, d, func(cur *WebhookDelivery, now time.Time) {
			cur.LastStatus, cur.LastFailure = status, ""
			finish(cur, DeliveryDelivered, now)
		}) {
			s.webhooks.delivered.Add(1)
			s.log.InfoContext(ctx, "webhook delivered", append(logArgs, "attempt", d.Attempts)...)
		}
		return
	}
	// Logged by kind, never with err or the URL: both can carry the URL's
	// path and query, which may hold the receiver's secrets.
	failure := attemptFailure(status, err)
	last := d.Attempts > len(s.webhooks.retries)
	if !s.settle(ctx, d, func(cur *WebhookDelivery, now time.Time) {
		cur.LastStatus, cur.LastFailure = status, failure
		if last {
			finish(cur, DeliveryFailed, now)
		} else {
			cur.Lease, cur.Due = "", now.Add(s.webhooks.retries[cur.Attempts-1])
		}
	}) {
		return
	}
	s.log.InfoContext(ctx, "webhook attempt failed", append(logArgs, "attempt", d.Attempts, "failure", failure, "status", status)...)
	if last {
		s.webhooks.failed.Add(1)
		s.log.WarnContext(ctx, "webhook undelivered; the result stays available by polling",
			append(logArgs, "attempts", d.Attempts, "failure", failure, "status", status)...)
	}
}

// webhookBody is what an attempt of d posts, checked as it is now. notSent
// says why nothing can be sent (logged; the delivery fails); a nil body
// without it means the store failed, and the attempt is tried again.
func (s *Service) webhookBody(ctx context.Context, d *WebhookDelivery) (target string, secret, body []byte, notSent string) {
	logArgs := []any{"webhook_id", d.ID, "verifier_id", d.VerifierID, "verifier_request_id", d.RequestID}
	var v *Verifier
	if err := s.store.View(ctx, func(tx Tx) error {
		var err error
		v, err = Verifiers.Get(tx, d.VerifierID)
		return err
	}); err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "webhook outbox: read verifier", append(logArgs, "err", err)...)
		}
		return "", nil, nil, ""
	}
	if v.WebhookURL == "" {
		s.log.InfoContext(ctx, "webhook not sent: the verifier's webhook was removed", logArgs...)
		return "", nil, nil, "webhook removed"
	}
	// Checked again as it is now: a URL stored under another policy (set
	// in development mode, or by an older version) is not dialled.
	if err := s.webhooks.policy.checkURL(v.WebhookURL); err != nil {
		s.log.WarnContext(ctx, "webhook not sent: its URL breaks the outbound policy; the result stays available by polling", logArgs...)
		return "", nil, nil, "URL breaks the outbound policy"
	}
	secret, err := s.openBytes(v.WebhookSecret, "verifier-webhook", v.ID)
	if err != nil {
		return "", nil, nil, "secret unreadable" // openBytes logged it
	}
	// requestResult re-checks the answer as a redemption would (SPEC §3.7):
	// an answer of a device revoked since is not delivered.
	res, err := s.requestResult(ctx, d.VerifierID, d.RequestID)
	if err != nil {
		code, reason := ErrorCode(err), ""
		if e, ok := errors.AsType[*Error](err); ok {
			reason = e.Reason
		}
		if code == api.CodeStorageUnavailable || ctx.Err() != nil {
			return "", nil, nil, "" // logged by requestResult; tried again
		}
		s.log.WarnContext(ctx, "webhook not sent", append(logArgs, "error", string(code), "reason", reason)...)
		return "", nil, nil, "not sent: " + string(code) + " " + reason
	}
	body, err = json.Marshal(res, AnswerOptions)
	if err != nil {
		s.log.ErrorContext(ctx, "webhook outbox: encode result", append(logArgs, "err", err)...)
		return "", nil, nil, "result not encodable"
	}
	return v.WebhookURL, secret, body, ""
}

// settle records the outcome of the attempt of d, with the time it is
// recorded, if d's claim still holds it; false when it does not (the lease
// ran out and another replica claimed it: theirs counts) or the store
// failed.
func (s *Service) settle(ctx context.Context, d *WebhookDelivery, apply func(*WebhookDelivery, time.Time)) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	now := s.now().UTC()
	held := false
	err := s.store.Update(ctx, func(tx Tx) error {
		cur, err := WebhookDeliveries.Get(tx, d.ID)
		if held = err == nil && cur.State == DeliveryPending && cur.Lease == d.Lease; !held {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		apply(cur, now)
		return WebhookDeliveries.Put(tx, cur)
	})
	if err != nil {
		s.log.ErrorContext(ctx, "webhook outbox: record an attempt", "webhook_id", d.ID, "err", err)
		return false
	}
	if !held {
		s.log.InfoContext(ctx, "webhook outbox: claim lost to another replica; its attempt counts", "webhook_id", d.ID)
	}
	return held
}

// release gives d back, due now and its attempt not counted: an attempt
// cut short by shutdown or a store failure.
func (s *Service) release(d *WebhookDelivery) {
	s.settle(context.Background(), d, func(cur *WebhookDelivery, now time.Time) {
		cur.Attempts--
		cur.Lease, cur.Due = "", now
	})
}

// sweepDeliveries deletes the done deliveries whose retention has ended.
// Only done deliveries are listed by expiry, and a done one never changes
// again (finish is the only place State is set; claim and settle write
// pending ones only), so what the listing saw is deleted without reading
// it again.
func (s *Service) sweepDeliveries(ctx context.Context) {
	sweep(ctx, s, WebhookDeliveries, "webhook outbox", s.now().UTC(), func(d *WebhookDelivery) time.Time { return d.Expires })
}

// sweep deletes the records of r listed by its byExpiry index whose
// expiry is before cutoff, oldest first, outboxBatch at a time until a
// batch holds fewer. The background loop calls it (startDispatcher); one
// another replica deleted meanwhile is no error, and a failure is only
// logged.
func sweep[T any](ctx context.Context, s *Service, r *Records[T], what string, cutoff time.Time, expiry func(*T) time.Time) {
	for {
		var expired []*T
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			expired, err = r.List(tx, byExpiry, Order{Limit: outboxBatch})
			return err
		})
		var gone [][]any
		for _, v := range expired {
			if !expiry(v).Before(cutoff) {
				break // listed by expiry: the rest are kept longer
			}
			gone = append(gone, r.key(v))
		}
		if err == nil && len(gone) > 0 {
			err = s.store.Update(ctx, func(tx Tx) error {
				for _, key := range gone {
					if err := r.Delete(tx, key...); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, what+": delete expired records", "err", err)
			}
			return
		}
		if len(gone) < outboxBatch {
			return
		}
	}
}

// WebhookStats are the outbox's figures for metrics.
type WebhookStats struct {
	// Pending counts the deliveries waiting, of every replica, from the
	// store: at most 10,000 (beyond, 10,000).
	Pending int
	// Delivered, Failed and Attempts count what this process did since it
	// started.
	Delivered, Failed, Attempts int64
}

// WebhookStats reads the outbox's figures.
func (s *Service) WebhookStats(ctx context.Context) (WebhookStats, error) {
	w := &s.webhooks
	st := WebhookStats{Delivered: w.delivered.Load(), Failed: w.failed.Load(), Attempts: w.attempts.Load()}
	err := s.store.View(ctx, func(tx Tx) error {
		pending, err := WebhookDeliveries.List(tx, byDue, Order{Limit: pendingCounted})
		st.Pending = len(pending)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("webhook outbox: count pending: %w", err)
	}
	return st, nil
}

// attemptFailure says, safely for a log, why an attempt failed: the
// address the outbound policy refused, a network error or timeout, or the
// receiver's status.
func attemptFailure(status int, err error) string {
	switch rule := refusedRule(err); {
	case rule != "":
		return "address refused: " + rule
	case isTimeout(err):
		return "timeout"
	case err != nil:
		return "network"
	case status >= 300 && status < 400:
		return "redirect not followed"
	default:
		return "status"
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

func (s *Service) post(ctx context.Context, target, id string, secret, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.WebhookIDHeader, id)
	req.Header.Set(api.SignatureHeader, api.SignWebhook(secret, s.now(), body))
	resp, err := s.webhooks.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Only the status counts; a little of the body is read so the
	// connection can be reused, never more than the cap.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))
	return resp.StatusCode, nil
}

// Close stops the webhook dispatcher and the attempts in flight, and
// waits for them to end; their deliveries stay in the outbox, due.
func (s *Service) Close() {
	w := &s.webhooks
	w.mu.Lock()
	if !w.closed {
		close(w.stop)
	}
	w.closed = true
	w.mu.Unlock()
	w.running.Wait()
}
