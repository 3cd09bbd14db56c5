package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/qr"
)

const verifierHead = `usage: eidwallet verifier [connection flags] <command> [flags] [args]

A relying party's side: ask a citizen for claims (SPEC §3.4) with the
verifier's API key. The citizen sees who asks, for what and why, and
approves or declines in the app. Exit status: 0 done (with --wait: approved),
1 refused, declined, expired or failed, 2 usage.

commands:
`

const verifierTail = `
connection flags (before or after the command):
  --key KEY      the verifier's API key (env EIDWALLET_VERIFIER_KEY); prefer the
                 variable: command lines are visible to other users
  --url URL      service URL (env EIDWALLET_URL; default http://127.0.0.1:8080)
  --timeout D    give up after D (default 30s; --wait lasts until the request expires)

examples:
  eidwallet verifier request --claims national_id:age_over_18 --purpose "Age check: alcohol" --wait
  eidwallet verifier request --claims national_id:full_name,birth_date --purpose "Account opening" \
      --presence EIDP1:ABCDEFGHIJKLMNOPQRSTUVWXYZ --ttl 300 --wait
`

// verifierCommand runs "eidwallet verifier ...".
func verifierCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	vc := &verifierCmd{cmdEnv: &cmdEnv{name: "eidwallet verifier", getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}, o: &connFlags{}}
	d := &dispatcher{cmdEnv: vc.cmdEnv, head: verifierHead, tail: verifierTail, col: 26, commands: vc.commands(),
		flags: func(fs *flag.FlagSet, _ string) {
			vc.o.register(fs, false, false)
			fs.StringVar(&vc.key, "key", vc.key, "the verifier's API `key` (env EIDWALLET_VERIFIER_KEY)")
		}}
	return d.run(ctx, args)
}

// keyed is what runs a verifier command: f with the verifier's API key.
func (vc *verifierCmd) keyed(f func(ctx context.Context, v *client.Verifier, pos []string) int) runFunc {
	return func(ctx context.Context, pos []string) int {
		key := vc.key
		if key == "" {
			key = strings.TrimSpace(vc.getenv("EIDWALLET_VERIFIER_KEY"))
		}
		if key == "" {
			return vc.usage("no verifier API key: set EIDWALLET_VERIFIER_KEY or pass --key")
		}
		vc.c = client.New(vc.o.serviceURL(vc.getenv, ""))
		return f(ctx, vc.c.Verifier(key), pos)
	}
}

func (vc *verifierCmd) commands() []command {
	return []command{
		{name: "request", args: "--claims TYPE:CLAIM[,CLAIM...] [--claims ...] --purpose TEXT\n          [--ttl SECONDS] [--presence EIDP1:...] [--wait] [--json]",
			help: "make a request. Without --presence it prints the EIDR1:\n" +
				"QR code for the citizen to scan; with the EIDP1: text of\n" +
				"the citizen's presence code it goes straight to their app.\n" +
				"--wait waits for the answer (until the request expires)\n" +
				"and prints it as JSON: exactly the approved claims",
			setup: func(fs *flag.FlagSet) runFunc {
				req := api.CreateRequestRequest{Claims: map[string][]string{}}
				var wait, asJSON bool
				claimSetFlag(fs, req.Claims, "claims to ask for, as `TYPE:CLAIM,CLAIM`; repeat for more types")
				fs.StringVar(&req.Purpose, "purpose", "", "why you ask, shown to the citizen (`text`, at most 200 characters)")
				fs.IntVar(&req.TTLSeconds, "ttl", 120, "how long the request lives, in `seconds` (at most 600)")
				fs.StringVar(&req.Presence, "presence", "", "the `EIDP1:` text of the citizen's presence code: send the request to their app")
				fs.BoolVar(&wait, "wait", false, "wait for the answer and print it as JSON")
				fs.BoolVar(&asJSON, "json", false, "print the API's JSON only (the QR code goes to stderr)")
				return vc.keyed(func(ctx context.Context, v *client.Verifier, _ []string) int {
					if len(req.Claims) == 0 || strings.TrimSpace(req.Purpose) == "" {
						return vc.usage("request needs --claims and --purpose")
					}
					return vc.request(ctx, v, req, wait, asJSON)
				})
			}},
		{name: "result", args: "REQUEST_ID [--wait]", nargs: 1,
			help: "the request's state as JSON; --wait waits for the answer",
			setup: func(fs *flag.FlagSet) runFunc {
				wait := fs.Bool("wait", false, "wait for the answer (until the request expires)")
				return vc.keyed(func(ctx context.Context, v *client.Verifier, pos []string) int {
					return vc.result(ctx, v, pos[0], *wait)
				})
			}},
	}
}

// verifierCmd is one run of a verifier command.
type verifierCmd struct {
	*cmdEnv
	o   *connFlags
	key string
	c   *client.Client
}

func (vc *verifierCmd) failed(err error) int { return vc.fail(err, vc.c.BaseURL()) }

func (vc *verifierCmd) request(ctx context.Context, v *client.Verifier, req api.CreateRequestRequest, wait, asJSON bool) int {
	cctx, cancel := context.WithTimeout(ctx, vc.o.timeout)
	created, err := v.CreateRequest(cctx, req)
	cancel()
	if err != nil {
		return vc.failed(err)
	}
	// The QR code is for the person at the counter: on stdout, unless
	// stdout is for JSON.
	art := vc.stdout
	if asJSON {
		art = vc.stderr
		if !wait {
			if rc := vc.printJSON(created); rc != exitOK {
				return rc
			}
		}
	}
	if created.QRText != "" {
		if pic, err := qr.Terminal(created.QRText); err != nil {
			vc.note("the QR code could not be drawn: %v", err) // the text still works
		} else {
			fmt.Fprint(art, pic)
		}
		fmt.Fprintln(art, created.QRText)
		fmt.Fprintf(art, "request %s expires %s (in %s)\n", created.RequestID,
			created.ExpiresAt.Local().Format(time.DateTime), time.Until(created.ExpiresAt).Round(time.Second))
		vc.note("show the code to the citizen: the app shows them who asks, for what and why")
	} else {
		fmt.Fprintf(art, "request %s sent to the citizen's app; it expires %s\n", created.RequestID, created.ExpiresAt.Local().Format(time.DateTime))
	}
	if !wait {
		vc.note("'eidwallet verifier result %s --wait' waits for the answer", created.RequestID)
		return exitOK
	}
	return vc.await(ctx, v, created.RequestID, api.RequestCreated, created.ExpiresAt)
}

func (vc *verifierCmd) result(ctx context.Context, v *client.Verifier, id string, wait bool) int {
	cctx, cancel := context.WithTimeout(ctx, vc.o.timeout)
	res, err := v.Request(cctx, id, 0, "")
	cancel()
	if err != nil {
		return vc.failed(err)
	}
	if !wait || client.FinalStatus(res.Status) {
		return vc.printResult(res)
	}
	return vc.await(ctx, v, id, res.Status, res.ExpiresAt)
}

// await long-polls the request until it is answered or expires, noting
// each change of status, and prints the result.
func (vc *verifierCmd) await(ctx context.Context, v *client.Verifier, id, status string, expires time.Time) int {
	// The service answers expired at expires_at; the margin covers the
	// round trip.
	ctx, cancel := context.WithTimeout(ctx, max(vc.o.timeout, time.Until(expires)+15*time.Second))
	defer cancel()
	vc.note("waiting for the citizen's answer (request %s is %s)…", id, status)
	for {
		res, err := v.Request(ctx, id, api.MaxWait, status)
		if err != nil {
			return vc.failed(err)
		}
		if client.FinalStatus(res.Status) {
			return vc.printResult(res)
		}
		if res.Status != status {
			status = res.Status
			vc.note("request %s is %s", id, status)
		}
	}
}

// printResult prints the request's state as JSON; exit 0 unless it was
// declined or expired.
func (vc *verifierCmd) printResult(res *api.RequestResult) int {
	if rc := vc.printJSON(res); rc != exitOK {
		return rc
	}
	switch res.Status {
	case api.RequestApproved:
		n := 0
		if res.Result != nil {
			n = len(res.Result.Documents)
		}
		vc.note("request %s approved: %d document(s), exactly the claims the citizen approved", res.RequestID, n)
	case api.RequestDeclined:
		vc.note("request %s was declined by the citizen", res.RequestID)
		return exitInvalid
	case api.RequestExpired:
		vc.note("request %s expired without an answer", res.RequestID)
		return exitInvalid
	}
	return exitOK
}
