package wallet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
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

type webhooks struct {
	policy  outboundPolicy
	client  *http.Client
	retries []time.Duration
	mu      sync.Mutex
	closed  bool
	stop    chan struct{}
	running sync.WaitGroup
}

// newWebhooks delivers under the outbound policy of SPEC §6 (outbound.go),
// waiting retries between attempts (nil: DefaultWebhookRetries).
func newWebhooks(allowLoopback bool, retries []time.Duration) webhooks {
	p := outboundPolicy{allowLoopback: allowLoopback}
	if retries == nil {
		retries = DefaultWebhookRetries()
	}
	return webhooks{policy: p, client: newOutboundClient(p), retries: retries, stop: make(chan struct{})}
}

// SetVerifierWebhook sets (or with an empty URL removes) the URL a
// verifier's request results are posted to, and returns a new signing
// secret, shown once and stored sealed.
func (s *Service) SetVerifierWebhook(ctx context.Context, p *Principal, verifierID string, req api.WebhookRequest) (*api.WebhookResponse, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	resp := &api.WebhookResponse{URL: req.URL}
	var sealed []byte
	if req.URL != "" {
		if err := s.webhooks.policy.checkURL(req.URL); err != nil {
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
		v.WebhookURL, v.WebhookSecret = req.URL, sealed
		return Verifiers.Put(tx, v)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "verifier")
	}
	s.log.InfoContext(ctx, "verifier webhook set", "verifier_id", verifierID, "enabled", req.URL != "")
	return resp, nil
}

// notifyWebhook posts a request's result to its verifier's webhook in the
// background, retrying with backoff.
func (s *Service) notifyWebhook(verifierID, requestID string) {
	w := &s.webhooks
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		s.deliver(verifierID, requestID, w.stop)
	}()
}

func (s *Service) deliver(verifierID, requestID string, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var v *Verifier
	if err := s.store.View(ctx, func(tx Tx) error {
		var err error
		v, err = Verifiers.Get(tx, verifierID)
		return err
	}); err != nil || v.WebhookURL == "" {
		return
	}
	// Checked again as it is now: a URL stored under another policy (set
	// in development mode, or by an older version) is not dialled.
	if err := s.webhooks.policy.checkURL(v.WebhookURL); err != nil {
		s.log.WarnContext(ctx, "webhook not sent: its URL breaks the outbound policy; the result stays available by polling",
			"verifier_id", verifierID, "verifier_request_id", requestID)
		return
	}
	secret, err := s.openBytes(v.WebhookSecret, "verifier-webhook", v.ID)
	if err != nil {
		return
	}
	// requestResult re-checks the answer as a redemption would (SPEC §3.7):
	// an answer of a device revoked since is not delivered.
	res, err := s.requestResult(ctx, verifierID, requestID)
	if err != nil {
		reason := ""
		if e, ok := errors.AsType[*Error](err); ok {
			reason = e.Reason
		}
		s.log.WarnContext(ctx, "webhook not sent", "verifier_id", verifierID, "verifier_request_id", requestID,
			"error", string(ErrorCode(err)), "reason", reason)
		return
	}
	body, err := json.Marshal(res, AnswerOptions)
	if err != nil {
		return
	}
	for attempt := 0; ; attempt++ {
		status, err := s.post(ctx, v.WebhookURL, secret, body)
		if err == nil && status >= 200 && status < 300 {
			s.log.InfoContext(ctx, "webhook delivered", "verifier_id", verifierID, "verifier_request_id", requestID, "attempt", attempt+1)
			return
		}
		// Logged by kind, never with err or the URL: both can carry the
		// URL's path and query, which may hold the receiver's secrets.
		failure := attemptFailure(status, err)
		s.log.InfoContext(ctx, "webhook attempt failed", "verifier_id", verifierID, "verifier_request_id", requestID,
			"attempt", attempt+1, "failure", failure, "status", status)
		if attempt == len(s.webhooks.retries) {
			s.log.WarnContext(ctx, "webhook undelivered; the result stays available by polling",
				"verifier_id", verifierID, "verifier_request_id", requestID, "attempts", attempt+1, "failure", failure, "status", status)
			return
		}
		select {
		case <-time.After(s.webhooks.retries[attempt]):
		case <-ctx.Done():
			return
		}
	}
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

func (s *Service) post(ctx context.Context, target string, secret, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
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

// Close stops webhook deliveries in flight and waits for them to end.
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
