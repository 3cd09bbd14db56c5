package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

const adminHead = `usage: eidwallet admin [connection flags] <command> [flags] [args]

Operator commands over the admin API. Results are printed as JSON on stdout,
notes on stderr. Exit status: 0 done, 1 refused or failed, 2 usage.

commands:
`

const adminTail = `
connection flags (before or after the command):
  --url URL          service URL (env EIDWALLET_URL; default http://127.0.0.1:8080)
  --token-file FILE  file holding the admin token (default <data dir>/admin-token)
  --token TOKEN      the admin token itself (env EIDWALLET_ADMIN_TOKEN); prefer the
                     variable or the file: command lines are visible to other users
  --data-dir DIR     data dir of the local server, for its admin-token file
                     (alias --data; env EIDWALLET_DATA_DIR or EIDWALLET_DATA; default data)
  --timeout D        give up after D (default 30s)

examples:
  eidwallet admin issuers create --id mps --name "Ministry of Public Security" --types national_id
  eidwallet admin issuers api-key mps
  eidwallet admin verifiers create --name "Corner Pharmacy" --category pharmacy \
      --claims national_id:full_name,age_over_18
  eidwallet admin activation-code 001090000001
  EIDWALLET_URL=https://wallet.example eidwallet admin --token-file /etc/eidwallet/admin-token issuers list
`

// adminCommand runs "eidwallet admin ...": the operator's side of the API
// through package client.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	ad := &adminCmd{cmdEnv: &cmdEnv{name: "eidwallet admin", getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}}
	d := &dispatcher{cmdEnv: ad.cmdEnv, head: adminHead, tail: adminTail, col: 34, commands: ad.commands(),
		flags: func(fs *flag.FlagSet, name string) {
			if name == "verifiers webhook" {
				ad.o.registerExceptURL(fs, true, false) // its --url is the webhook's
			} else {
				ad.o.register(fs, true, false)
			}
		}}
	return d.run(ctx, args)
}

// adminCmd is one run of an admin command.
type adminCmd struct {
	*cmdEnv
	o connFlags
}

// call is what runs an admin command: f with the admin token, within the
// timeout, its result printed as JSON.
func (ad *adminCmd) call(f func(ctx context.Context, a *client.Admin, pos []string) (any, error)) runFunc {
	return ad.callWithin(true, f)
}

// callWithin is call, within the timeout only when bounded (a backup takes
// as long as the store's size).
func (ad *adminCmd) callWithin(bounded bool, f func(ctx context.Context, a *client.Admin, pos []string) (any, error)) runFunc {
	return func(ctx context.Context, pos []string) int {
		token, err := ad.o.adminToken(ad.getenv)
		if err != nil {
			fmt.Fprintf(ad.stderr, "%s: %v\n", ad.name, err)
			return exitUsage
		}
		c := client.New(ad.o.serviceURL(ad.getenv, ""))
		if bounded {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, ad.o.timeout)
			defer cancel()
		}
		out, err := f(ctx, c.Admin(token), pos)
		if err != nil {
			return ad.fail(err, c.BaseURL())
		}
		return ad.printJSON(out)
	}
}

func (ad *adminCmd) commands() []command {
	return []command{
		{name: "issuers create", args: "--id ID --name NAME --types TYPE[,TYPE...]",
			help: "register an issuing authority and its first key",
			setup: func(fs *flag.FlagSet) runFunc {
				var req api.CreateIssuerRequest
				var types string
				fs.StringVar(&req.ID, "id", "", "issuer `id` (a slug: mps, vss, mot)")
				fs.StringVar(&req.Name, "name", "", "display `name`")
				fs.StringVar(&types, "types", "", "credential `types` it may issue, comma-separated")
				return ad.call(func(ctx context.Context, a *client.Admin, _ []string) (any, error) {
					req.Types = splitList(types)
					if req.ID == "" || req.Name == "" || len(req.Types) == 0 {
						return nil, badUsage("issuers create needs --id, --name and --types")
					}
					v, err := a.CreateIssuer(ctx, req)
					if err == nil {
						ad.note("issuer %s created; JWKS at %s", v.ID, v.JWKSURI)
					}
					return v, err
				})
			}},
		{name: "issuers list", help: "list issuers with their keys",
			run: ad.call(func(ctx context.Context, a *client.Admin, _ []string) (any, error) { return a.Issuers(ctx) })},
		{name: "issuers rotate-key", args: "ISSUER_ID", nargs: 1, help: "make a new active signing key",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				v, err := a.RotateIssuerKey(ctx, pos[0])
				if err == nil {
					for _, k := range v.Keys {
						if k.Active {
							ad.note("issuer %s now signs with key %s", v.ID, k.Kid)
						}
					}
				}
				return v, err
			})},
		{name: "issuers retire-key", args: "ISSUER_ID KID", nargs: 2,
			help: "retire an inactive key (its credentials stop verifying)",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				v, err := a.RetireIssuerKey(ctx, pos[0], pos[1])
				if err == nil {
					ad.note("key %s of issuer %s retired", pos[1], v.ID)
				}
				return v, err
			})},
		{name: "issuers retire", args: "ISSUER_ID", nargs: 1,
			help: "retire an issuer for good (nothing it signed verifies or\nredeems any more; its records stay)",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				v, err := a.RetireIssuer(ctx, pos[0])
				if err == nil {
					ad.note("issuer %s retired: its keys are out of its JWKS and its shares no longer redeem", v.ID)
				}
				return v, err
			})},
		{name: "issuers api-key", args: "ISSUER_ID", nargs: 1, help: "make an API key for the issuer's systems (shown once)",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				k, err := a.CreateIssuerAPIKey(ctx, pos[0])
				if err == nil {
					ad.note("API key %s for issuer %s: the key is shown once, store it now", k.ID, k.Owner)
				}
				return k, err
			})},
		{name: "verifiers create", args: "--name NAME --category CATEGORY --claims TYPE:CLAIM[,CLAIM...] [--claims ...] [--id ID]",
			help: "register a relying party; prints its first API key (shown once)",
			setup: func(fs *flag.FlagSet) runFunc {
				req := api.CreateVerifierRequest{Claims: map[string][]string{}}
				fs.StringVar(&req.ID, "id", "", "verifier `id` (default: generated)")
				fs.StringVar(&req.Name, "name", "", "display `name`, shown to citizens")
				fs.StringVar(&req.Category, "category", "", "`category` (pharmacy, bank, hotel, ...)")
				claimSetFlag(fs, req.Claims, "claims it may ask for, as `TYPE:CLAIM,CLAIM`; repeat for more types")
				return ad.call(func(ctx context.Context, a *client.Admin, _ []string) (any, error) {
					if req.Name == "" || req.Category == "" || len(req.Claims) == 0 {
						return nil, badUsage("verifiers create needs --name, --category and at least one --claims")
					}
					v, err := a.CreateVerifier(ctx, req)
					if err == nil {
						ad.note("verifier %s created; its API key is in api_key.key, shown once: store it now", v.ID)
					}
					return v, err
				})
			}},
		{name: "verifiers list", help: "list verifiers",
			run: ad.call(func(ctx context.Context, a *client.Admin, _ []string) (any, error) { return a.Verifiers(ctx) })},
		{name: "verifiers api-key", args: "VERIFIER_ID", nargs: 1, help: "make another API key for a verifier (shown once)",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				k, err := a.CreateVerifierAPIKey(ctx, pos[0])
				if err == nil {
					ad.note("API key %s for verifier %s: the key is shown once, store it now", k.ID, k.Owner)
				}
				return k, err
			})},
		{name: "verifiers webhook", args: "VERIFIER_ID --url URL | --remove", nargs: 1,
			help: "post the verifier's request results to URL (https to a\n" +
				"public address; loopback only on a server started with\n" +
				"--dev-loopback-webhooks), signed with a new secret\n" +
				"(shown once); here --url is the webhook's: give the\n" +
				"service URL before the command or in EIDWALLET_URL",
			setup: func(fs *flag.FlagSet) runFunc {
				var hook string
				var remove bool
				fs.StringVar(&hook, "url", "", "webhook `URL`: https to a public address (loopback only in development mode)")
				fs.BoolVar(&remove, "remove", false, "remove the webhook: results by polling only")
				return ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
					if (hook == "") == !remove {
						return nil, badUsage("verifiers webhook needs --url URL or --remove")
					}
					r, err := a.SetVerifierWebhook(ctx, pos[0], hook)
					switch {
					case err != nil:
					case remove:
						ad.note("verifier %s: webhook removed; request results by polling only", pos[0])
					default:
						ad.note("verifier %s: request results go to %s, signed with the secret in \"secret\" (shown once: store it now; an earlier secret no longer works)", pos[0], r.URL)
					}
					return r, err
				})
			}},
		{name: "verifiers origins", args: "VERIFIER_ID [ORIGIN ...]", nargs: -1,
			help: "set the https origins whose web pages may call the\n" +
				"verifier routes with its keys (CORS); none removes them",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				return a.SetVerifierOrigins(ctx, pos[0], append([]string{}, pos[1:]...))
			})},
		{name: "verifiers retire", args: "VERIFIER_ID", nargs: 1,
			help: "retire a verifier: its keys stop working at once",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				v, err := a.RetireVerifier(ctx, pos[0])
				if err == nil {
					ad.note("verifier %s retired: its API keys no longer work", pos[0])
				}
				return v, err
			})},
		{name: "stats", args: "[--from TIME] [--to TIME] [--by day|hour]",
			help: "usage statistics: aggregates only, counts under 10 hidden\n" +
				"(TIME: RFC 3339 in UTC on a day's or hour's boundary)",
			setup: func(fs *flag.FlagSet) runFunc {
				var from, to, by string
				fs.StringVar(&from, "from", "", "first bucket, RFC 3339 UTC (default: the service's)")
				fs.StringVar(&to, "to", "", "end of the last bucket, excluded")
				fs.StringVar(&by, "by", "", "bucket size: day or hour (default day)")
				return ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
					q := api.StatsQuery{By: by}
					for _, f := range []struct {
						name, val string
						t         *time.Time
					}{{"--from", from, &q.From}, {"--to", to, &q.To}} {
						if f.val == "" {
							continue
						}
						var err error
						if *f.t, err = time.Parse(time.RFC3339, f.val); err != nil {
							return nil, badUsage(fmt.Sprintf("%s: not an RFC 3339 time: %q", f.name, f.val))
						}
					}
					return a.Stats(ctx, q)
				})
			}},
		{name: "backup", args: "--out FILE",
			help: "copy the embedded store as it is now, while it serves\n" +
				"(the master key is not in it: back that up apart)",
			setup: func(fs *flag.FlagSet) runFunc {
				var out string
				fs.StringVar(&out, "out", "", "the `file` to write (0600; made whole or not at all)")
				return ad.callWithin(false, func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
					if out == "" {
						return nil, badUsage("--out FILE is required")
					}
					if out == "-" { // stdout has the JSON answer, and a copy is made whole or not at all
						return nil, badUsage("--out -: give a file; the copy is written to one whole or not at all")
					}
					n, err := backupTo(ctx, a, out)
					if err != nil {
						return nil, err
					}
					ad.note("the store is copied to %s (%d bytes); its master key is not in it", out, n)
					return map[string]any{"file": out, "bytes": n}, nil
				})
			}},
		{name: "api-keys list", args: "[--owner ID]", help: "list API keys (ids, owners, revocations; never the keys), all or one owner's",
			setup: func(fs *flag.FlagSet) runFunc {
				var owner string
				fs.StringVar(&owner, "owner", "", "only the keys of this issuer or verifier (`ID`; admin: the admin's)")
				return ad.call(func(ctx context.Context, a *client.Admin, _ []string) (any, error) { return a.APIKeys(ctx, owner) })
			}},
		{name: "api-keys revoke", args: "KEY_ID", nargs: 1, help: "revoke an issuer or verifier API key (the admin key: admin-token reset)",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				if err := a.RevokeAPIKey(ctx, pos[0]); err != nil {
					return nil, err
				}
				ad.note("API key %s revoked", pos[0])
				return map[string]any{"key_id": pos[0], "revoked": true}, nil
			})},
		{name: "activation-code", args: "CITIZEN_ID", nargs: 1, help: "make a one-time enrolment code (valid 15 minutes)",
			run: ad.call(func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
				r, err := a.CreateActivationCode(ctx, pos[0])
				if err == nil {
					ad.note("one-time activation code for citizen %s, valid until %s; read it out as it is grouped: the citizen may type it in any case, with or without hyphens",
						pos[0], r.ExpiresAt.Local().Format(time.DateTime))
				}
				return r, err
			})},
	}
}

// adminToken is --token, else the --token-file, else EIDWALLET_ADMIN_TOKEN,
// else <data dir>/admin-token as "eidwallet serve" writes it.
func (o *connFlags) adminToken(getenv func(string) string) (string, error) {
	if o.token != "" {
		return o.token, nil
	}
	if o.tokenFile != "" {
		return readSecretFile(o.tokenFile)
	}
	if t := strings.TrimSpace(getenv("EIDWALLET_ADMIN_TOKEN")); t != "" {
		return t, nil
	}
	dir := o.dataDir
	for _, v := range []string{"EIDWALLET_DATA_DIR", "EIDWALLET_DATA"} {
		if dir == "" {
			dir = getenv(v)
		}
	}
	if dir == "" {
		dir = "data"
	}
	path := filepath.Join(dir, "admin-token")
	t, err := readSecretFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no admin token: pass --token-file, set EIDWALLET_ADMIN_TOKEN, or point --data-dir at the server's data dir (%s does not exist)", path)
	}
	return t, err
}

// readSecretFile reads a token from a file that only its owner may read
// (as the server writes it): the first line that is not blank or a comment.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("admin token: %s is accessible to group or others (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 8<<10))
	if err != nil {
		return "", fmt.Errorf("admin token: read %s: %w", path, err)
	}
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line, nil
		}
	}
	return "", fmt.Errorf("admin token: %s is empty", path)
}

// backupTo downloads the store's copy into path: written to a temporary
// file beside it (0600), fsynced, then renamed, so that a copy cut short
// never stands where a whole one is expected, and two backups to one path
// do not write into each other's.
func backupTo(ctx context.Context, a *client.Admin, path string) (int64, error) {
	// A running store's own file (bbolt holds its lock) is never written
	// over: renamed over it, the copy would stand where the server no
	// longer writes, and every later write would be lost at its restart.
	if f, err := os.Open(path); err == nil {
		busy := inUse(f)
		f.Close()
		if busy {
			return 0, badUsage(fmt.Sprintf("--out %s: the file is in use (a running store's?): write the copy elsewhere", path))
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial") // 0600
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name()) // gone once renamed; a failure's leftover otherwise
	n, err := a.Backup(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Rename(f.Name(), path)
}
