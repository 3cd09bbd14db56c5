package wallet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// What every server of one deployment shares through its store, for
// operators: the public URL the deployment answers at, and the way back in
// when the admin token is lost (docs/operations.md, "Bootstrap of N
// replicas").

// ErrPublicURLChanged is CheckPublicURL's answer when the store was set up
// with another public URL.
var ErrPublicURLChanged = errors.New("the store was set up with another public URL")

// metaPublicURL holds the deployment's public URL (plain text).
const metaPublicURL = "public_url"

// metaAdminBootstrapped holds when the operator's first admin key was made
// (RFC 3339): BootstrapAdmin makes none once it is there.
const metaAdminBootstrapped = "admin_bootstrapped"

// CheckPublicURL records url as the deployment's public URL on the first
// start and refuses another one later with ErrPublicURLChanged, naming
// both. The URL is in every credential's iss, every status list uri and
// every assertion's aud, so servers of one store started with different
// ones would each refuse what the others issued (untrusted_issuer);
// SetPublicURL changes it deliberately.
func CheckPublicURL(ctx context.Context, store Store, url string) error {
	url = strings.TrimSuffix(url, "/")
	recorded, err := PublicURL(ctx, store)
	if err != nil {
		return err
	}
	if recorded == "" {
		// First start (or servers starting together: each records the
		// URL it has unless one did first, and the loser compares).
		err = store.Update(ctx, func(tx Tx) error {
			b, err := Meta.Get(tx, metaPublicURL)
			if errors.Is(err, ErrNotFound) {
				b = []byte(url)
				err = Meta.Put(tx, b, metaPublicURL)
			}
			recorded = string(b)
			return err
		})
		if err != nil {
			return fmt.Errorf("public URL: %w", err)
		}
	}
	if recorded != url {
		return fmt.Errorf("%w: the store has %q, this server %q", ErrPublicURLChanged, recorded, url)
	}
	return nil
}

// SetPublicURL replaces the deployment's public URL and returns the one it
// had ("" when none was recorded). Credentials already issued keep the old
// URL as their iss and stop verifying: this is for a deployment moving
// before it has issued, or deliberately starting over.
func SetPublicURL(ctx context.Context, store Store, url string) (previous string, err error) {
	url = strings.TrimSuffix(url, "/")
	err = store.Update(ctx, func(tx Tx) error {
		old, err := Meta.Get(tx, metaPublicURL)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		previous = string(old)
		return Meta.Put(tx, []byte(url), metaPublicURL)
	})
	if err != nil {
		return "", fmt.Errorf("set public URL: %w", err)
	}
	return previous, nil
}

// bootstrapOwner owns the operator's admin keys: the one BootstrapAdmin
// makes and those ResetAdminKey makes.
const bootstrapOwner = "admin"

// ResetAdminKey revokes every live admin key of the operator and makes a
// new one, returned once (only its hash is stored): the way back in when
// the admin token is lost, or to rotate it, from any server of the
// deployment (eidwallet admin-token reset). It needs no running service:
// an API key is a random secret and its hash, and the master key plays no
// part in it.
func ResetAdminKey(ctx context.Context, store Store, rand io.Reader, now func() time.Time) (key *api.NewAPIKey, revoked int, err error) {
	// The parts of a Service that putAPIKey uses.
	s := &Service{store: store, rand: rand, now: now, log: slog.New(slog.DiscardHandler)}
	err = store.Update(ctx, func(tx Tx) error {
		key, revoked = nil, 0 // fn may run again (Store.Update)
		keys, err := APIKeys.List(tx, byOwner, Order{}, bootstrapOwner)
		if err != nil {
			return err
		}
		at := now().UTC()
		for _, k := range keys {
			if k.Role != api.RoleAdmin || k.Revoked != nil {
				continue
			}
			k.Revoked = &at
			if err := APIKeys.Put(tx, k); err != nil {
				return err
			}
			revoked++
		}
		if key, err = s.putAPIKey(tx, api.RoleAdmin, bootstrapOwner); err != nil {
			return err
		}
		// A reset on a store never started counts as its bootstrap.
		return Meta.Put(tx, []byte(at.Format(time.RFC3339)), metaAdminBootstrapped)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reset admin key: %w", err)
	}
	return key, revoked, nil
}

// PublicURL returns the deployment's recorded public URL, "" when none is.
func PublicURL(ctx context.Context, store Store) (string, error) {
	var url []byte
	err := store.View(ctx, func(tx Tx) error {
		var err error
		url, err = Meta.Get(tx, metaPublicURL)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("public URL: %w", err)
	}
	return string(url), nil
}
