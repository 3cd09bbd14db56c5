package wallet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Batch copies (issue 12, THREATS T38): a device that registers a pool of
// one-time keys holds, of each credential, a batch of copies, each signed
// for one pool key with its own salts, decoys and status index, and with
// iat and exp rounded (copyTimes). A share presents a copy no share has
// presented before, and its approval deletes it, so two verifiers' answers have nothing
// in common but the disclosed claims and what every holder of the type
// shares (issuer, type, rounded dates). The service signs new copies off
// the request path as a batch runs low (refillCopies); a status change of
// the credential sets every copy's entry (CopyStatuses).

// Batch and pool sizes.
const (
	DefaultBatchSize = 8
	MaxBatchSize     = 64
	// MaxPoolKeys bounds the free keys a device may hold, and
	// maxKeysPerCall the keys one registration takes.
	MaxPoolKeys    = 512
	maxKeysPerCall = 64
)

// refillQueue holds the devices whose batches to top up, each once.
type refillQueue struct {
	mu      sync.Mutex
	devices map[string]bool
	kick    chan struct{}
	locks   [64]sync.Mutex // refillCopies, by device id's hash
}

func (q *refillQueue) add(deviceID string) {
	q.mu.Lock()
	q.devices[deviceID] = true
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// take empties the queue.
func (q *refillQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := slices.Collect(maps.Keys(q.devices))
	clear(q.devices)
	return out
}

// runRefills tops up the queued devices' batches until ctx ends. A refill
// that fails is logged and left: the device's next share, key
// registration or issuance queues it again.
func (s *Service) runRefills(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.refills.kick:
		}
		for _, id := range s.refills.take() {
			if err := s.refillCopies(ctx, id); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "batch copies: refill", "device_id", id, "err", err)
			}
		}
	}
}

func hashString(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// RegisterDeviceKeys adds one-time public keys to the calling device's
// pool (POST /v1/me/device/keys). From the first registration on, the
// device's shares present batch copies only; the copies are signed in the
// background.
func (s *Service) RegisterDeviceKeys(ctx context.Context, p *Principal, req api.DeviceKeysRequest) (*api.DeviceKeysView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	if len(req.Keys) == 0 || len(req.Keys) > maxKeysPerCall {
		return nil, Errorf(api.CodeInvalidRequest, "keys: 1 to %d P-256 public JWKs", maxKeysPerCall)
	}
	now := s.now().UTC()
	keys := make([]*PoolKey, len(req.Keys))
	for i, raw := range req.Keys {
		pub, err := credentials.ParsePublicJWK(raw)
		if err != nil {
			return nil, Errorf(api.CodeInvalidRequest, "keys[%d]: a P-256 public JWK", i)
		}
		canonical, err := credentials.PublicJWK(pub)
		if err != nil {
			return nil, Errorf(api.CodeInvalidRequest, "keys[%d]: a P-256 public JWK", i)
		}
		thumb, err := credentials.Thumbprint(pub)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(canonical)
		if err != nil {
			return nil, err
		}
		keys[i] = &PoolKey{DeviceID: p.DeviceID, Thumbprint: thumb, Key: b, Created: now}
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		d, err := Devices.Get(tx, p.DeviceID)
		if err != nil {
			return err
		}
		free, err := PoolKeys.List(tx, "", Order{}, d.ID)
		if err != nil {
			return err
		}
		if len(free)+len(keys) > MaxPoolKeys {
			return Errorf(api.CodeInvalidRequest, "keys: a device holds at most %d free pool keys (%d now)", MaxPoolKeys, len(free))
		}
		for _, k := range keys {
			// A thumbprint names one key of one device, ever: a key
			// already known (this device's, spent, or another's) is refused.
			if _, err := DeviceKeys.Get(tx, k.Thumbprint); err == nil {
				return Errorf(api.CodeConflict, "keys: a key is already registered")
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := DeviceKeys.Put(tx, []byte(d.ID), k.Thumbprint); err != nil {
				return err
			}
			if err := PoolKeys.Put(tx, k); err != nil {
				return err
			}
		}
		if !d.Pool {
			d.Pool = true
			return Devices.Put(tx, d)
		}
		return nil
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "device keys")
	}
	s.log.InfoContext(ctx, "device keys registered", "holder_id", p.Subject, "device_id", p.DeviceID, "keys", len(keys))
	s.refills.add(p.DeviceID)
	return s.DeviceKeyPool(ctx, p)
}

// DeviceKeyPool is the calling device's key pool and batch copies
// (GET /v1/me/device/keys): wanted is what it takes for a full batch of
// every usable credential.
func (s *Service) DeviceKeyPool(ctx context.Context, p *Principal) (*api.DeviceKeysView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	v := &api.DeviceKeysView{BatchSize: s.batch}
	err := s.store.View(ctx, func(tx Tx) error {
		free, err := PoolKeys.List(tx, "", Order{}, p.DeviceID)
		if err != nil {
			return err
		}
		creds, err := s.batchable(tx, p.Subject, s.now())
		if err != nil {
			return err
		}
		for _, c := range creds {
			ready, signing, _, err := heldCopies(tx, c.ID, p.DeviceID, s.now())
			if err != nil {
				return err
			}
			v.Copies += len(ready) + len(signing)
		}
		v.Free = len(free)
		v.Wanted = min(max(0, s.batch*len(creds)-v.Copies-v.Free), MaxPoolKeys-v.Free)
		return nil
	})
	return v, s.storeErr(ctx, err, "device keys")
}

// batchable are the holder's credentials that batch copies are kept of:
// those usable at now from an issuer not retired.
func (s *Service) batchable(tx Tx, holderID string, now time.Time) ([]*Credential, error) {
	all, err := Credentials.List(tx, byHolder, Order{}, holderID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if credentialUsable(c, now) != nil {
			continue
		}
		is, err := Issuers.Get(tx, c.IssuerID)
		if err != nil {
			return nil, err
		}
		if is.Retired == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// viewCopies runs a preparation that takes batch copies (prepareItems) in
// a read transaction; when a credential has no copy left on the device,
// it tops up the device's batches at once from its free keys and runs it
// again.
func (s *Service) viewCopies(ctx context.Context, deviceID string, fn func(Tx) error) error {
	err := s.store.View(ctx, fn)
	if !errors.Is(err, errNoCopy) {
		return err
	}
	if err := s.refillCopies(ctx, deviceID); err != nil {
		return err
	}
	return s.store.View(ctx, fn)
}

// spendValid is stillValid for an approval's write transaction, which
// also spends the batch copies the items present (spendCopies).
func (s *Service) spendValid(tx Tx, deviceID string, items []ShareItem, now time.Time) error {
	if _, err := s.stillValid(tx, deviceID, items, now); err != nil {
		return err
	}
	return s.spendCopies(tx, deviceID, items)
}

// approved queues a top-up of the device's batches once an approval that
// may have spent batch copies is written (err nil).
func (s *Service) approved(deviceID string, err error) {
	if err == nil {
		s.refills.add(deviceID)
	}
}

// claimTTL is how long a claimed copy counts as being signed: a refill
// that has not stored it by then has died, and the next refill drops it.
const claimTTL = time.Minute

// heldCopies sorts a device's copies of a credential: those ready to be
// presented, those being signed by a refill, and those a dead refill
// left claimed.
func heldCopies(tx Tx, credentialID, deviceID string, now time.Time) (ready, signing, dead []*BatchCopy, err error) {
	all, err := BatchCopies.List(tx, "", Order{}, credentialID, deviceID)
	for _, c := range all {
		switch {
		case !c.pending():
			ready = append(ready, c)
		case now.Sub(c.Claimed) < claimTTL:
			signing = append(signing, c)
		default:
			dead = append(dead, c)
		}
	}
	return ready, signing, dead, err
}

// plannedCopy is one batch copy on its way through refillCopies.
type plannedCopy struct {
	cred        *Credential
	key         *PoolKey
	list, index int
	sealed      []byte
}

// refillCopies tops up every batch of device deviceID that has run down
// to half (or is empty) back to the batch size, as far as its free pool
// keys go: the keys and status indices claimed in one transaction, the
// copies signed outside any, and stored in a second one. A key or index
// claimed for a copy that is then not stored is never used again.
func (s *Service) refillCopies(ctx context.Context, deviceID string) error {
	// One refill of a device at a time in this process: a share that
	// found no copy waits for the background refill in flight, whose
	// copies it then finds, rather than finding its keys claimed.
	mu := &s.refills.locks[hashString(deviceID)%uint32(len(s.refills.locks))]
	mu.Lock()
	defer mu.Unlock()
	now := s.now().UTC()
	var d *Device
	var plan []*plannedCopy
	var dead []*BatchCopy
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if d, err = Devices.Get(tx, deviceID); err != nil || d.Revoked != nil || !d.Pool {
			return err
		}
		creds, err := s.batchable(tx, d.HolderID, now)
		if err != nil {
			return err
		}
		var wants []*Credential
		for _, c := range creds {
			// Copies another refill is signing count as held: two
			// refills at once (two replicas) top a batch up once.
			ready, signing, gone, err := heldCopies(tx, c.ID, d.ID, now)
			if err != nil {
				return err
			}
			dead = append(dead, gone...)
			if held := len(ready) + len(signing); held <= s.batch/2 {
				for range s.batch - held {
					wants = append(wants, c)
				}
			}
		}
		if len(wants) == 0 {
			return nil
		}
		keys, err := PoolKeys.List(tx, "", Order{Limit: len(wants)}, d.ID)
		for i, k := range keys {
			plan = append(plan, &plannedCopy{cred: wants[i], key: k})
		}
		return err
	})
	if err != nil || len(plan) == 0 && len(dead) == 0 {
		return err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		for _, c := range dead { // their keys are spent, their indices burnt
			if err := BatchCopies.Delete(tx, c.CredentialID, c.DeviceID, c.Thumbprint); err != nil {
				return err
			}
		}
		claimed := plan[:0]
		lists := map[string]int{}
		for _, pc := range plan {
			// Still free, still usable: another refill may have taken the
			// key, an issuer may have changed the status.
			if _, err := PoolKeys.Get(tx, d.ID, pc.key.Thumbprint); errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			c, err := Credentials.Get(tx, pc.cred.ID)
			if err != nil {
				return err
			}
			if credentialUsable(c, now) != nil {
				continue
			}
			if err := PoolKeys.Delete(tx, d.ID, pc.key.Thumbprint); err != nil {
				return err
			}
			list, ok := lists[c.IssuerID]
			if !ok {
				if list, err = newestList(tx, c.IssuerID); err != nil {
					return err
				}
			}
			if pc.list, pc.index, err = s.claimIndex(tx, c.IssuerID, list, now); err != nil {
				return err
			}
			lists[c.IssuerID] = pc.list
			if err := CopyStatuses.Put(tx, &CopyStatus{CredentialID: c.ID, List: pc.list, Index: pc.index}); err != nil {
				return err
			}
			// Claimed, to be signed: other refills count it as held.
			if err := BatchCopies.Put(tx, pc.copy(d.ID, nil, now)); err != nil {
				return err
			}
			pc.cred = c
			claimed = append(claimed, pc)
		}
		plan = claimed
		return nil
	})
	if err != nil || len(plan) == 0 {
		return err
	}
	if err := s.signCopies(ctx, d, plan, now); err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		for _, pc := range plan {
			// Gone when the device was revoked meanwhile (or a later
			// refill took this one for dead): then it is not stored.
			if _, err := BatchCopies.Get(tx, pc.cred.ID, d.ID, pc.key.Thumbprint); errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if err := BatchCopies.Put(tx, pc.copy(d.ID, pc.sealed, now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "batch copies signed", "device_id", d.ID, "copies", len(plan))
	}
	return err
}

// copy is pc's record on device deviceID, sealed (nil: being signed).
func (pc *plannedCopy) copy(deviceID string, sealed []byte, claimed time.Time) *BatchCopy {
	return &BatchCopy{CredentialID: pc.cred.ID, DeviceID: deviceID, Thumbprint: pc.key.Thumbprint, Key: pc.key.Key,
		List: pc.list, Index: pc.index, Copy: sealed, Claimed: claimed}
}

// signCopies signs and seals each planned copy, outside any transaction.
func (s *Service) signCopies(ctx context.Context, d *Device, plan []*plannedCopy, now time.Time) error {
	signers := map[string]*credentials.Issuer{}
	claims := map[string]map[string]any{}
	for _, pc := range plan {
		c := pc.cred
		t, ok := s.types.ByID(c.Type)
		if !ok {
			return errors.New("credential of an unknown type " + c.Type)
		}
		if signers[c.IssuerID] == nil {
			var is *Issuer
			err := s.store.View(ctx, func(tx Tx) error {
				var err error
				is, err = Issuers.Get(tx, c.IssuerID)
				return err
			})
			if err != nil {
				return err
			}
			if signers[c.IssuerID], err = s.activeSigner(is); err != nil {
				return err
			}
		}
		if claims[c.ID] == nil {
			var err error
			if claims[c.ID], err = s.credentialClaims(c); err != nil {
				return err
			}
		}
		pub, err := credentials.ParsePublicJWK(pc.key.Key)
		if err != nil {
			return fmt.Errorf("pool key %s: %w", pc.key.Thumbprint, err)
		}
		sdjwt, err := s.signCopy(signers[c.IssuerID], c, t, claims[c.ID], pub, pc.list, pc.index, now)
		if err != nil {
			return err
		}
		if pc.sealed, err = s.sealBytes([]byte(sdjwt), "batch-copy", c.ID, d.ID, pc.key.Thumbprint); err != nil {
			return err
		}
	}
	return nil
}
