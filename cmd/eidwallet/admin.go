package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

const adminUsage = `usage: eidwallet admin [connection flags] <command> [flags] [args]

Operator commands over the admin API. Results are printed as JSON on stdout,
notes on stderr. Exit status: 0 done, 1 refused or failed, 2 usage.

commands:
  issuers create --id ID --name NAME --types TYPE[,TYPE...]
                                  register an issuing authority and its first key
  issuers list                    list issuers with their keys
  issuers rotate-key ISSUER_ID    make a new active signing key
  issuers retire-key ISSUER_ID KID
                                  retire an inactive key (its credentials stop verifying)
  issuers retire ISSUER_ID        retire an issuer for good (nothing it signed verifies or
                                  redeems any more; its records stay)
  issuers api-key ISSUER_ID       make an API key for the issuer's systems (shown once)
  verifiers create --name NAME --category CATEGORY --claims TYPE:CLAIM[,CLAIM...] [--claims ...] [--id ID]
                                  register a relying party; prints its first API key (shown once)
  verifiers list                  list verifiers
  verifiers api-key VERIFIER_ID   make another API key for a verifier (shown once)
  verifiers webhook VERIFIER_ID --url URL | --remove
                                  post the verifier's request results to URL (https to a
                                  public address; loopback only on a server started with
                                  --dev-loopback-webhooks), signed with a new secret
                                  (shown once); here --url is the webhook's: give the
                                  service URL before the command or in EIDWALLET_URL
  api-keys revoke KEY_ID          revoke an issuer or verifier API key
  activation-code CITIZEN_ID      make a one-time enrolment code (valid 15 minutes)

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
	e := &cmdEnv{name: "eidwallet admin", getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	var o connFlags
	fs := e.flagSet("eidwallet admin", adminUsage)
	o.register(fs, true, false)
	args, code, ok := e.parseTop(fs, args, adminUsage)
	if !ok {
		return code
	}
	var group, action string
	group, args = args[0], args[1:]
	switch group {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, adminUsage)
		return exitOK
	case "issuers", "verifiers", "api-keys":
		if len(args) == 0 {
			return e.usage("%s needs a subcommand", group)
		}
		action, args = args[0], args[1:]
	case "activation-code":
	default:
		return e.usage("unknown command %q", group)
	}
	name := strings.TrimSpace(group + " " + action)

	// Each command: its flags and positional arguments, then the call.
	leaf := e.flagSet("eidwallet admin "+name, adminUsage)
	if name == "verifiers webhook" {
		o.registerExceptURL(leaf, true, false) // its --url is the webhook's
	} else {
		o.register(leaf, true, false)
	}
	var run func(ctx context.Context, a *client.Admin, pos []string) (any, error)
	nargs := 0
	switch name {
	case "issuers create":
		var req api.CreateIssuerRequest
		var types string
		leaf.StringVar(&req.ID, "id", "", "issuer `id` (a slug: mps, vss, mot)")
		leaf.StringVar(&req.Name, "name", "", "display `name`")
		leaf.StringVar(&types, "types", "", "credential `types` it may issue, comma-separated")
		run = func(ctx context.Context, a *client.Admin, _ []string) (any, error) {
			req.Types = splitList(types)
			if req.ID == "" || req.Name == "" || len(req.Types) == 0 {
				return nil, badUsage("issuers create needs --id, --name and --types")
			}
			v, err := a.CreateIssuer(ctx, req)
			if err == nil {
				e.note("issuer %s created; JWKS at %s", v.ID, v.JWKSURI)
			}
			return v, err
		}
	case "issuers list":
		run = func(ctx context.Context, a *client.Admin, _ []string) (any, error) { return a.Issuers(ctx) }
	case "issuers rotate-key":
		nargs = 1
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			v, err := a.RotateIssuerKey(ctx, pos[0])
			if err == nil {
				for _, k := range v.Keys {
					if k.Active {
						e.note("issuer %s now signs with key %s", v.ID, k.Kid)
					}
				}
			}
			return v, err
		}
	case "issuers retire-key":
		nargs = 2
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			v, err := a.RetireIssuerKey(ctx, pos[0], pos[1])
			if err == nil {
				e.note("key %s of issuer %s retired", pos[1], v.ID)
			}
			return v, err
		}
	case "issuers retire":
		nargs = 1
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			v, err := a.RetireIssuer(ctx, pos[0])
			if err == nil {
				e.note("issuer %s retired: its keys are out of its JWKS and its shares no longer redeem", v.ID)
			}
			return v, err
		}
	case "issuers api-key":
		nargs = 1
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			k, err := a.CreateIssuerAPIKey(ctx, pos[0])
			if err == nil {
				e.note("API key %s for issuer %s: the key is shown once, store it now", k.ID, k.Owner)
			}
			return k, err
		}
	case "verifiers create":
		req := api.CreateVerifierRequest{Claims: map[string][]string{}}
		leaf.StringVar(&req.ID, "id", "", "verifier `id` (default: generated)")
		leaf.StringVar(&req.Name, "name", "", "display `name`, shown to citizens")
		leaf.StringVar(&req.Category, "category", "", "`category` (pharmacy, bank, hotel, ...)")
		claimSetFlag(leaf, req.Claims, "claims it may ask for, as `TYPE:CLAIM,CLAIM`; repeat for more types")
		run = func(ctx context.Context, a *client.Admin, _ []string) (any, error) {
			if req.Name == "" || req.Category == "" || len(req.Claims) == 0 {
				return nil, badUsage("verifiers create needs --name, --category and at least one --claims")
			}
			v, err := a.CreateVerifier(ctx, req)
			if err == nil {
				e.note("verifier %s created; its API key is in api_key.key, shown once: store it now", v.ID)
			}
			return v, err
		}
	case "verifiers list":
		run = func(ctx context.Context, a *client.Admin, _ []string) (any, error) { return a.Verifiers(ctx) }
	case "verifiers api-key":
		nargs = 1
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			k, err := a.CreateVerifierAPIKey(ctx, pos[0])
			if err == nil {
				e.note("API key %s for verifier %s: the key is shown once, store it now", k.ID, k.Owner)
			}
			return k, err
		}
	case "verifiers webhook":
		nargs = 1
		var hook string
		var remove bool
		leaf.StringVar(&hook, "url", "", "webhook `URL`: https to a public address (loopback only in development mode)")
		leaf.BoolVar(&remove, "remove", false, "remove the webhook: results by polling only")
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			if (hook == "") == !remove {
				return nil, badUsage("verifiers webhook needs --url URL or --remove")
			}
			r, err := a.SetVerifierWebhook(ctx, pos[0], hook)
			switch {
			case err != nil:
			case remove:
				e.note("verifier %s: webhook removed; request results by polling only", pos[0])
			default:
				e.note("verifier %s: request results go to %s, signed with the secret in \"secret\" (shown once: store it now; an earlier secret no longer works)", pos[0], r.URL)
			}
			return r, err
		}
	case "api-keys revoke":
		nargs = 1
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			if err := a.RevokeAPIKey(ctx, pos[0]); err != nil {
				return nil, err
			}
			e.note("API key %s revoked", pos[0])
			return map[string]any{"id": pos[0], "revoked": true}, nil
		}
	case "activation-code":
		nargs = 1
		run = func(ctx context.Context, a *client.Admin, pos []string) (any, error) {
			r, err := a.CreateActivationCode(ctx, pos[0])
			if err == nil {
				e.note("one-time activation code for citizen %s, valid until %s", pos[0], r.ExpiresAt.Local().Format(time.DateTime))
			}
			return r, err
		}
	default:
		return e.usage("unknown command %q", name)
	}
	pos, err := parseInterspersed(leaf, args)
	if err != nil {
		return e.parseExit(err)
	}
	if len(pos) != nargs {
		return e.usage("%s takes %d argument(s), got %d", name, nargs, len(pos))
	}
	token, err := o.adminToken(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", e.name, err)
		return exitUsage
	}
	c := client.New(o.serviceURL(getenv, ""))
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	out, err := run(ctx, c.Admin(token), pos)
	if err != nil {
		return e.fail(err, c.BaseURL())
	}
	return e.printJSON(out)
}

// Shared by eidwallet admin and eidwallet holder.

// defaultServiceURL is where a local "eidwallet serve" listens.
const defaultServiceURL = "http://127.0.0.1:8080"

// connFlags are the connection settings of the client commands. Flags
// start empty so that registering them again on a subcommand keeps what
// was parsed before it; defaults and variables are applied when read.
type connFlags struct {
	url       string
	timeout   time.Duration
	token     string
	tokenFile string
	dataDir   string
	device    string
}

func (o *connFlags) register(fs *flag.FlagSet, admin, holder bool) {
	fs.StringVar(&o.url, "url", o.url, "service `URL` (env EIDWALLET_URL; default "+defaultServiceURL+")")
	o.registerExceptURL(fs, admin, holder)
}

// registerExceptURL registers the connection flags but --url, for a
// command whose own --url means something else.
func (o *connFlags) registerExceptURL(fs *flag.FlagSet, admin, holder bool) {
	if o.timeout == 0 {
		o.timeout = 30 * time.Second
	}
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "give up after this `duration`")
	if admin {
		fs.StringVar(&o.token, "token", o.token, "admin `token` (env EIDWALLET_ADMIN_TOKEN)")
		fs.StringVar(&o.tokenFile, "token-file", o.tokenFile, "`file` holding the admin token (default <data dir>/admin-token)")
		fs.StringVar(&o.dataDir, "data-dir", o.dataDir, "server data `dir` (env EIDWALLET_DATA_DIR; default data)")
		fs.StringVar(&o.dataDir, "data", o.dataDir, "alias of --data-dir")
	}
	if holder {
		fs.StringVar(&o.device, "device", o.device, "device `file` (env EIDWALLET_DEVICE; default "+defaultDeviceFile+")")
	}
}

// serviceURL is --url, else EIDWALLET_URL, else fallback (the device
// file's), else defaultServiceURL.
func (o *connFlags) serviceURL(getenv func(string) string, fallback string) string {
	for _, u := range []string{o.url, getenv("EIDWALLET_URL"), fallback} {
		if u != "" {
			return u
		}
	}
	return defaultServiceURL
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

// cmdEnv is one run of a client command: its name and streams.
type cmdEnv struct {
	name   string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (e *cmdEnv) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, usage)
		fmt.Fprintf(e.stderr, "\nflags of %s:\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parseExit is the exit code of a flag parse error: the flag package has
// printed it (and the usage); -h is not a failure.
func (e *cmdEnv) parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func (e *cmdEnv) usage(format string, args ...any) int {
	fmt.Fprintf(e.stderr, "%s: %s\nRun '%s -h' for help.\n", e.name, fmt.Sprintf(format, args...), e.name)
	return exitUsage
}

// note is a line for the person at the terminal, on stderr.
func (e *cmdEnv) note(format string, args ...any) {
	fmt.Fprintf(e.stderr, format+"\n", args...)
}

// badUsage is an invalid command line found after parsing.
type badUsage string

func (u badUsage) Error() string { return string(u) }

// fail reports err and returns its exit code, with a hint for the usual
// causes. Nothing secret is in err: the client never puts tokens in errors.
func (e *cmdEnv) fail(err error, baseURL string) int {
	var ue badUsage
	if errors.As(err, &ue) {
		return e.usage("%s", ue)
	}
	fmt.Fprintf(e.stderr, "%s: %v\n", e.name, err)
	var ce *client.Error
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ce) && ce.Code == api.CodeUnauthenticated:
		fmt.Fprintf(e.stderr, "hint: the service at %s did not accept the credentials\n", baseURL)
	case errors.As(err, &oe) && oe.Op == "dial":
		fmt.Fprintf(e.stderr, "hint: is the service running at %s? (--url, EIDWALLET_URL)\n", baseURL)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintln(e.stderr, "hint: no answer in time (--timeout)")
	}
	return exitInvalid
}

// printJSON prints v on stdout, indented.
func (e *cmdEnv) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: encode result: %v\n", e.name, err)
		return exitInvalid
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
	return exitOK
}

// parseInterspersed parses fs over args allowing flags after positional
// arguments ("issuers rotate-key mps --url ..."), and returns the
// positional ones. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		consumed := len(args) - fs.NArg()
		rest := fs.Args()
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseTop parses a command's leading flags and returns its subcommand
// words; with none, it prints usage. ok is false when the command is
// over, with code its exit code.
func (e *cmdEnv) parseTop(fs *flag.FlagSet, args []string, usage string) (rest []string, code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		return nil, e.parseExit(err), false
	}
	if fs.NArg() == 0 {
		fmt.Fprint(e.stderr, usage)
		return nil, exitUsage, false
	}
	return fs.Args(), exitOK, true
}

// claimSetFlag adds a repeatable --claims TYPE:CLAIM,CLAIM flag filling set.
func claimSetFlag(fs *flag.FlagSet, set map[string][]string, help string) {
	fs.Func("claims", help, func(s string) error {
		typ, list, ok := strings.Cut(s, ":")
		typ = strings.TrimSpace(typ)
		claims := splitList(list)
		if !ok || typ == "" || len(claims) == 0 {
			return errors.New("want TYPE:CLAIM[,CLAIM...], e.g. national_id:full_name,age_over_18")
		}
		set[typ] = append(set[typ], claims...)
		return nil
	})
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
