package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/wallet"
)

// The operator commands for what the servers of a deployment share through
// its store (docs/operations.md, "Bootstrap of N replicas"): the admin
// token and the public URL. Each reads serve's flags and EIDWALLET_
// variables, so it runs on any replica with that replica's configuration.

const adminTokenUsage = `usage: eidwallet admin-token reset [--out FILE] [serve's flags]

Revokes the operator's admin keys and makes a new one, written to FILE
(default <data-dir>/admin-token, mode 0600; "-" prints it on stdout). It runs
on any replica, with that replica's flags and variables; on PostgreSQL the
service may keep running, and the old token stops working on every replica at
once. The embedded store is one process's file: stop the service first.
`

// adminTokenCommand is eidwallet admin-token reset.
func adminTokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "reset" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, adminTokenUsage)
			return exitOK
		}
		fmt.Fprint(stderr, adminTokenUsage)
		return exitUsage
	}
	var out string
	cfg, err := parseConfig("admin-token reset", adminTokenUsage, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "write the token to this `file` (default <data-dir>/admin-token; - for stdout)")
	})
	if code, done := configExit("admin-token reset", err, stderr); done {
		return code
	}
	store, err := openOperatorStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "eidwallet admin-token reset: %v\n", err)
		return exitInvalid
	}
	defer store.Close()
	key, revoked, err := wallet.ResetAdminKey(ctx, store, rand.Reader, time.Now)
	if err != nil {
		fmt.Fprintf(stderr, "eidwallet admin-token reset: %v\n", err)
		return exitInvalid
	}
	if out == "-" {
		fmt.Fprintln(stdout, key.Key)
	} else {
		if out == "" {
			if err := prepareDataDir(cfg.DataDir, slog.New(slog.DiscardHandler)); err != nil {
				fmt.Fprintf(stderr, "eidwallet admin-token reset: %v\n", err)
				return exitInvalid
			}
			out = filepath.Join(cfg.DataDir, "admin-token")
		}
		if err := writeSecretFile(out, []byte(key.Key+"\n")); err != nil {
			// The key is stored and the old ones revoked: say so, and
			// how to try again.
			fmt.Fprintf(stderr, "eidwallet admin-token reset: key %s made but not written to %s: %v; run the reset again\n", key.ID, out, err)
			return exitInvalid
		}
		fmt.Fprintf(stdout, "The new admin token is in %s (mode 0600).\n", out)
	}
	fmt.Fprintf(stderr, "admin key %s made; %d earlier admin key(s) revoked\n", key.ID, revoked)
	return exitOK
}

const publicURLUsage = `usage: eidwallet public-url show [serve's flags]
       eidwallet public-url set URL [serve's flags]

The public URL is recorded in the PostgreSQL store at the first start, and a
replica started with another one refuses to start: it is in every
credential's iss, status list uri and assertion aud. "show" prints it; "set"
replaces it, deliberately: stop every replica, set it, then start them all
with --public-url URL. Credentials issued under the old URL stop verifying.
`

// publicURLCommand is eidwallet public-url show|set.
func publicURLCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	action := ""
	if len(args) > 0 {
		action, args = args[0], args[1:]
	}
	var url string
	switch {
	case action == "-h" || action == "--help":
		fmt.Fprint(stdout, publicURLUsage)
		return exitOK
	case action == "set" && len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		url, args = strings.TrimSuffix(args[0], "/"), args[1:]
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			fmt.Fprintf(stderr, "eidwallet public-url set: %q: want an http or https URL\n", url)
			return exitUsage
		}
	case action != "show":
		fmt.Fprint(stderr, publicURLUsage)
		return exitUsage
	}
	cfg, err := parseConfig("public-url "+action, publicURLUsage, args, getenv, stderr, nil)
	if err == nil && cfg.Store != "postgres" {
		// Only replicas must agree on it; a server on the embedded store
		// uses the --public-url it starts with, and records none.
		err = errors.New("the embedded store records no public URL: start the server with the --public-url it should use (the command is for PostgreSQL, --postgres-dsn)")
	}
	if code, done := configExit("public-url "+action, err, stderr); done {
		return code
	}
	store, err := openOperatorStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "eidwallet public-url: %v\n", err)
		return exitInvalid
	}
	defer store.Close()
	if action == "show" {
		recorded, err := wallet.PublicURL(ctx, store)
		if err != nil {
			fmt.Fprintf(stderr, "eidwallet public-url show: %v\n", err)
			return exitInvalid
		}
		if recorded == "" {
			fmt.Fprintln(stderr, "no public URL recorded yet: the first start on PostgreSQL records its own")
			return exitOK
		}
		fmt.Fprintln(stdout, recorded)
		return exitOK
	}
	previous, err := wallet.SetPublicURL(ctx, store, url)
	if err != nil {
		fmt.Fprintf(stderr, "eidwallet public-url set: %v\n", err)
		return exitInvalid
	}
	if previous == "" {
		previous = "(none)"
	}
	fmt.Fprintf(stdout, "public URL %s → %s; start every replica with --public-url %s\n", previous, url, url)
	return exitOK
}

// configExit is the end of a command whose configuration did not parse.
func configExit(name string, err error, stderr io.Writer) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	}
	fmt.Fprintf(stderr, "eidwallet %s: %v\n", name, err)
	return exitUsage, true
}

// openOperatorStore opens the store cfg names for an operator command,
// with a hint when a running service holds the embedded store's file.
func openOperatorStore(ctx context.Context, cfg *config) (wallet.Store, error) {
	// An operator command acts on the deployment's store as it is: it never
	// makes or migrates a schema, so a mistyped schema or DSN is refused,
	// not answered from a new, empty store nothing else reads.
	c := *cfg
	c.NoMigrate = true
	store, err := openStore(ctx, &c)
	switch {
	case errors.Is(err, bolt.ErrLocked):
		return nil, fmt.Errorf("%w\nhint: the embedded store is one process's file: stop eidwallet serve on %s first", err, cfg.DataDir)
	case err != nil && cfg.Store == "postgres":
		return nil, fmt.Errorf("%w\nhint: schema %q of that database holds no store this binary can use as it is: "+
			"check --postgres-dsn and --postgres-schema, or run eidwallet migrate first", err, cfg.PostgresSchema)
	}
	return store, err
}
