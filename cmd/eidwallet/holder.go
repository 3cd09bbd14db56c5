package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/qr"
	"github.com/eidwallet/eidwallet/wallet"
)

const holderHead = `usage: eidwallet holder [connection flags] <command> [flags] [args]

The citizen's side, standing in for the companion app: a device key in a
local file signs in and approves shares. Lists print as text; --json prints
the API's JSON instead. Exit status: 0 done, 1 refused or failed, 2 usage.

commands:
`

const holderTail = `
connection flags (before or after the command):
  --device FILE  device file (env EIDWALLET_DEVICE; default eidwallet-device.json);
                 it holds the private key: mode 0600, never share it
  --url URL      service URL (env EIDWALLET_URL; default: the one the device
                 enrolled with, else http://127.0.0.1:8080)
  --timeout D    give up after D (default 30s)

examples:
  eidwallet holder enrol --citizen 001090000001 --code K7Q2-... --name "My phone"
  eidwallet holder credentials
  eidwallet holder share --credential national_id --claims full_name,age_over_18
  eidwallet holder share --credential cred_1 --claims full_name \
      --credential cred_2 --claims card_number --ttl 120 --verifier pharmacy-1
  eidwallet holder request resolve EIDR1:ABCDEFGHIJKLMNOPQRSTUVWXYZ
  eidwallet holder request approve req_... --credential national_id
  eidwallet holder activity --export > activity.json
`

// defaultDeviceFile is where the device file goes without --device.
const defaultDeviceFile = "eidwallet-device.json"

// holderCommand runs "eidwallet holder ...".
func holderCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	h := &holderCmd{cmdEnv: &cmdEnv{name: "eidwallet holder", getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}, o: &connFlags{}}
	d := &dispatcher{cmdEnv: h.cmdEnv, head: holderHead, tail: holderTail, col: 26, commands: h.commands(),
		flags: func(fs *flag.FlagSet, _ string) { h.o.register(fs, false, true) }}
	return d.run(ctx, args)
}

// timed is what runs a holder command: f within the timeout.
func (h *holderCmd) timed(f runFunc) runFunc {
	return h.timedAtLeast(0, f)
}

// timedAtLeast is timed with a timeout of at least d.
func (h *holderCmd) timedAtLeast(d time.Duration, f runFunc) runFunc {
	return func(ctx context.Context, pos []string) int {
		ctx, cancel := context.WithTimeout(ctx, max(h.o.timeout, d))
		defer cancel()
		return f(ctx, pos)
	}
}

// withJSON is the setup of a command whose only flag is --json.
func (h *holderCmd) withJSON(f func(ctx context.Context, pos []string, asJSON bool) int) func(*flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		asJSON := jsonFlag(fs)
		return h.timed(func(ctx context.Context, pos []string) int { return f(ctx, pos, *asJSON) })
	}
}

func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print the API's JSON")
}

func (h *holderCmd) commands() []command {
	return []command{
		{name: "enrol", alias: "enroll", args: "--citizen ID --code CODE [--name NAME] [--force]",
			help: "make a device key, enrol it with a one-time activation\ncode (--code - reads it from stdin), register one-time keys\n(see 'keys') and write the device file",
			setup: func(fs *flag.FlagSet) runFunc {
				var citizen, code, devName string
				var force bool
				fs.StringVar(&citizen, "citizen", "", "your personal identification `number` (12 digits)")
				fs.StringVar(&code, "code", "", "one-time activation `code` from the identity authority, like 7K3Q-9XWD-2MZA-H4PN-T8RE-5JCV-GBP;\ncase, spaces and hyphens do not matter (- reads stdin)")
				fs.StringVar(&devName, "name", "eidwallet CLI", "device `name` shown in your device list")
				fs.BoolVar(&force, "force", false, "replace an existing device file (that device stays enrolled until revoked)")
				return h.timed(func(ctx context.Context, _ []string) int { return h.enrol(ctx, citizen, code, devName, force) })
			}},
		{name: "credentials", args: "[--json]", help: "list your credentials and their claims",
			setup: h.withJSON(func(ctx context.Context, _ []string, asJSON bool) int { return h.credentials(ctx, asJSON) })},
		{name: "share", args: "--credential ID|TYPE --claims CLAIM[,CLAIM...] [--credential ... --claims ...]\n        [--ttl SECONDS] [--uses N] [--verifier ID] [--offline] [--json]",
			help: "share chosen claims: approves with the device key and\nprints the QR code, its EID1: text and when it expires",
			setup: func(fs *flag.FlagSet) runFunc {
				var req api.ShareRequest
				var items []api.ShareRequestItem
				asJSON := jsonFlag(fs)
				itemFlags(fs, &items, "`CLAIM,CLAIM` of the --credential before it")
				fs.IntVar(&req.TTLSeconds, "ttl", 60, "how long the QR code lives, in `seconds` (at most 300)")
				fs.IntVar(&req.MaxUses, "uses", 1, "how many times it may be redeemed")
				fs.StringVar(&req.VerifierID, "verifier", "", "only this verifier `id` may redeem it")
				fs.BoolVar(&req.Offline, "offline", false, "also print an EIDC1: code a counter verifies with no network (one credential, no portrait)")
				return h.timed(func(ctx context.Context, _ []string) int {
					if len(items) == 0 {
						return h.usage("share needs --credential and --claims")
					}
					for _, it := range items {
						if len(it.Claims) == 0 {
							return h.usage("--credential %s has no --claims", it.CredentialID)
						}
					}
					req.Items = items
					return h.share(ctx, req, *asJSON)
				})
			}},
		{name: "keys", args: "[--json]",
			help:  "register the one-time keys the service asks for: each share\nthen presents a copy of its own, which two verifiers cannot link",
			setup: h.withJSON(func(ctx context.Context, _ []string, asJSON bool) int { return h.keys(ctx, asJSON) })},
		{name: "shares", args: "[--json]", help: "list your shares",
			setup: h.withJSON(func(ctx context.Context, _ []string, asJSON bool) int { return h.shares(ctx, asJSON) })},
		{name: "cancel", args: "SHARE_ID", nargs: 1, help: "cancel a share that has not been used",
			run: h.timed(func(ctx context.Context, pos []string) int { return h.cancel(ctx, pos[0]) })},
		{name: "presence", args: "[--json]",
			help:  "make a presence code (EIDP1:, 60 s, no data) and print its QR\nfor staff to scan: their request then reaches 'requests'",
			setup: h.withJSON(func(ctx context.Context, _ []string, asJSON bool) int { return h.presence(ctx, asJSON) })},
		{name: "requests", args: "[--wait N] [--json]",
			help: "requests from verifiers waiting for your answer; --wait N\nwaits up to N seconds (at most 60) for one to arrive",
			setup: func(fs *flag.FlagSet) runFunc {
				asJSON := jsonFlag(fs)
				wait := fs.Int("wait", 0, "wait up to `N` seconds (at most 60) for a request to arrive")
				// A long-poll outlasts the default timeout.
				return h.timedAtLeast(api.MaxWait+10*time.Second, func(ctx context.Context, _ []string) int {
					if *wait < 0 || *wait > int(api.MaxWait/time.Second) {
						return h.usage("--wait: 0 to %d seconds", int(api.MaxWait/time.Second))
					}
					return h.requests(ctx, time.Duration(*wait)*time.Second, *asJSON)
				})
			}},
		{name: "request resolve", args: "EIDR1:... [--json]", nargs: 1,
			help:  "scan a verifier's request code: shows who asks, for what, why",
			setup: h.withJSON(func(ctx context.Context, pos []string, asJSON bool) int { return h.resolveRequest(ctx, pos[0], asJSON) })},
		{name: "request show", args: "REQUEST_ID [--json]", nargs: 1,
			setup: h.withJSON(func(ctx context.Context, pos []string, asJSON bool) int { return h.showRequest(ctx, pos[0], asJSON) })},
		{name: "request approve", args: "REQUEST_ID --credential ID|TYPE [--claims CLAIM,...] [--credential ...]", nargs: 1,
			help: "answer with your device key: each --credential answers with\nevery claim the request asks of its type, or only --claims",
			setup: func(fs *flag.FlagSet) runFunc {
				var items []api.ShareRequestItem
				asJSON := jsonFlag(fs)
				itemFlags(fs, &items, "only these `CLAIM,CLAIM` of the --credential before it (default: all it is asked)")
				return h.timed(func(ctx context.Context, pos []string) int {
					if len(items) == 0 {
						return h.usage("request approve needs --credential")
					}
					return h.approveRequest(ctx, pos[0], items, *asJSON)
				})
			}},
		{name: "request decline", args: "REQUEST_ID", nargs: 1, help: "say no",
			setup: h.withJSON(func(ctx context.Context, pos []string, asJSON bool) int { return h.declineRequest(ctx, pos[0], asJSON) })},
		{name: "activity", args: "[--export] [--limit N] [--cursor C] [--json]",
			help: "your activity log, a page at a time, newest first (--cursor:\nthe next page); --export prints the whole hash chain\nas JSON, as the service signed it, and checks every hash\nand the service's signed checkpoint (exit 1 if either fails)",
			setup: func(fs *flag.FlagSet) runFunc {
				asJSON := jsonFlag(fs)
				export := fs.Bool("export", false, "the whole hash chain, oldest first, checked here")
				var pg api.Page
				fs.IntVar(&pg.Limit, "limit", 0, "entries a page (1 to 1000; default the service's, 100)")
				fs.StringVar(&pg.Cursor, "cursor", "", "the next page: the cursor the page before printed")
				return h.timed(func(ctx context.Context, _ []string) int {
					if *export && pg != (api.Page{}) {
						return h.usage("--export is the whole chain: no --limit or --cursor")
					}
					return h.activity(ctx, *export, pg, *asJSON)
				})
			}},
		{name: "devices", args: "[--json]", help: "list your devices",
			setup: h.withJSON(func(ctx context.Context, _ []string, asJSON bool) int { return h.devices(ctx, asJSON) })},
		{name: "revoke-device", args: "DEVICE_ID", nargs: 1, help: "revoke one of your devices",
			run: h.timed(func(ctx context.Context, pos []string) int { return h.revokeDevice(ctx, pos[0]) })},
	}
}

// holderCmd is one run of a holder command.
type holderCmd struct {
	*cmdEnv
	o *connFlags
	c *client.Client
}

func (h *holderCmd) devicePath() string {
	if h.o.device != "" {
		return h.o.device
	}
	if p := h.getenv("EIDWALLET_DEVICE"); p != "" {
		return p
	}
	return defaultDeviceFile
}

// holder loads the device file and returns its client view; on failure it
// has reported and returns the exit code.
func (h *holderCmd) holder() (*client.Holder, int) {
	path := h.devicePath()
	dev, err := client.LoadDevice(path)
	if err != nil {
		fmt.Fprintf(h.stderr, "%s: %v\n", h.name, err)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(h.stderr, "hint: enrol first with 'eidwallet holder enrol', or point --device / EIDWALLET_DEVICE at your device file\n")
		}
		return nil, exitUsage
	}
	if dev.ID == "" {
		fmt.Fprintf(h.stderr, "%s: %s holds a key that was never enrolled; run 'eidwallet holder enrol --force'\n", h.name, path)
		return nil, exitUsage
	}
	h.c = client.New(h.o.serviceURL(h.getenv, dev.URL))
	return h.c.Holder(dev), exitOK
}

func (h *holderCmd) failed(err error) int { return h.fail(err, h.c.BaseURL()) }

func (h *holderCmd) enrol(ctx context.Context, citizen, code, name string, force bool) int {
	if code == "-" {
		line, err := bufio.NewReader(io.LimitReader(h.stdin, 1<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(h.stderr, "%s: read the code from stdin: %v\n", h.name, err)
			return exitUsage
		}
		code = strings.TrimSpace(line)
	}
	if citizen == "" || code == "" {
		return h.usage("enrol needs --citizen and --code")
	}
	path := h.devicePath()
	if _, err := os.Lstat(path); err == nil && !force {
		fmt.Fprintf(h.stderr, "%s: %s exists; pass --force to replace it (that device stays enrolled until you revoke it)\n", h.name, path)
		return exitInvalid
	}
	dev, err := client.NewDevice(name)
	if err != nil {
		fmt.Fprintf(h.stderr, "%s: %v\n", h.name, err)
		return exitInvalid
	}
	// The key is on disk before the service knows it, so an enrolled
	// device never loses its key; the pending file becomes the device file
	// once enrolment succeeds.
	pending := path + ".pending"
	if err := dev.Save(pending); err != nil {
		fmt.Fprintf(h.stderr, "%s: %v\n", h.name, err)
		return exitInvalid
	}
	h.c = client.New(h.o.serviceURL(h.getenv, ""))
	res, err := h.c.Holder(dev).Enroll(ctx, citizen, code)
	if err != nil {
		os.Remove(pending)
		return h.failed(err)
	}
	err = dev.Save(pending)
	if err == nil {
		err = os.Rename(pending, path)
	}
	if err != nil {
		fmt.Fprintf(h.stderr, "%s: enrolled as device %s, but the device file could not be written: %v\n(the key is in %s)\n", h.name, res.DeviceID, err, pending)
		return exitInvalid
	}
	h.note("enrolled device %s (%q) for holder %s; the device file %s holds its private key: keep it private", res.DeviceID, name, res.HolderID, path)
	// One-time keys from the start, so that no two shares present the same
	// copy (SPEC §6: presentations unlinkable beyond the claims disclosed).
	_, saved, err := h.refillKeys(ctx, h.c.Holder(dev), path)
	if !saved {
		return exitInvalid
	}
	if err != nil {
		h.note("the one-time keys could not all be registered (%v): run 'eidwallet holder keys', or two verifiers could link your shares", err)
	}
	return h.printJSON(map[string]any{"holder_id": res.HolderID, "device_id": res.DeviceID, "device_file": path, "url": h.c.BaseURL(),
		"one_time_keys": dev.PoolSize()})
}

func (h *holderCmd) credentials(ctx context.Context, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	creds, err := hc.Credentials(ctx)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(creds)
	}
	if len(creds) == 0 {
		h.note("no credentials yet")
		return exitOK
	}
	for i, c := range creds {
		if i > 0 {
			fmt.Fprintln(h.stdout)
		}
		fmt.Fprintf(h.stdout, "%s  %s (%s) from %s, %s, valid until %s\n", c.ID, c.TypeName, c.Type, partyName(c.Issuer), c.Status, c.ExpiresAt.Format(time.DateOnly))
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range c.Claims {
				if !yield(k) {
					return
				}
			}
		})
		tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
		for _, n := range names {
			fmt.Fprintf(tw, "    %s\t%s\n", n, claimText(c.Claims[n]))
		}
		tw.Flush()
	}
	return exitOK
}

// claimText shows a claim value on one line: strings plain, data URIs
// (portraits) shortened, anything else as JSON.
func claimText(v any) string {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "data:") {
			mt, _, _ := strings.Cut(strings.TrimPrefix(x, "data:"), ";")
			return fmt.Sprintf("[%s, %d bytes]", shown(mt), len(x))
		}
		return shown(x)
	default:
		b, err := jsonText(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return b
	}
}

func partyName(p api.Party) string {
	if p.Name != "" && p.ID != "" {
		return shown(p.Name) + " (" + shown(p.ID) + ")"
	}
	return shown(p.Name + p.ID)
}

// shown is text someone else wrote (a verifier's name and purpose, an
// issuer's claim), as it may be printed on the citizen's terminal: each
// control or format character written as \u{…}, so that no escape
// sequence, line break or bidi override in it moves the cursor, forges a
// line of the screen or reorders what is shown. The service refuses such
// characters where it takes text in (wallet.displayText); a standard
// verifier's request, or a record stored before, may still hold them.
func shown(s string) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hidden(r) {
			fmt.Fprintf(&b, "\\u{%X}", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hidden(r rune) bool { return wallet.HiddenRune(r) || r == utf8.RuneError }

// resolveItems turns a type given as --credential into the id of the one
// credential of that type the holder has.
func (h *holderCmd) resolveItems(ctx context.Context, hc *client.Holder, items []api.ShareRequestItem) error {
	creds, err := hc.Credentials(ctx)
	if err != nil {
		return err
	}
	for i := range items {
		want := items[i].CredentialID
		if slices.ContainsFunc(creds, func(c *api.CredentialView) bool { return c.ID == want }) {
			continue
		}
		var ofType []string
		for _, c := range creds {
			if c.Type == want && c.Status == "valid" {
				ofType = append(ofType, c.ID)
			}
		}
		switch len(ofType) {
		case 1:
			items[i].CredentialID = ofType[0]
		case 0:
			return fmt.Errorf("--credential %s: you hold no credential with that id, nor a valid one of that type ('eidwallet holder credentials' lists them)", want)
		default:
			return fmt.Errorf("--credential %s: you hold several of that type; choose one of %s", want, strings.Join(ofType, ", "))
		}
	}
	return nil
}

func (h *holderCmd) share(ctx context.Context, req api.ShareRequest, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	if err := h.resolveItems(ctx, hc, req.Items); err != nil {
		return h.failed(err)
	}
	view, err := hc.ShareAndApprove(ctx, req)
	if err != nil {
		return h.failed(err)
	}
	h.saveSpent(hc)
	if asJSON {
		return h.printJSON(view)
	}
	art, err := qr.Terminal(view.QRText)
	if err != nil {
		// The text still works: a counter scanner or a verifier can type it.
		h.note("the QR code could not be drawn: %v", err)
	} else {
		fmt.Fprint(h.stdout, art)
	}
	fmt.Fprintln(h.stdout, view.QRText)
	left := time.Until(view.ExpiresAt).Round(time.Second)
	fmt.Fprintf(h.stdout, "expires %s (in %s)\n", view.ExpiresAt.Local().Format(time.DateTime), left)
	if view.OfflineQRText != "" {
		if art, err := qr.Terminal(view.OfflineQRText); err == nil {
			fmt.Fprint(h.stdout, art)
		}
		fmt.Fprintln(h.stdout, view.OfflineQRText)
		fmt.Fprintf(h.stdout, "offline code expires %s\n", view.OfflineExpiresAt.Local().Format(time.DateTime))
	}
	h.note("share %s is active: show the code to the verifier; 'eidwallet holder cancel %s' withdraws it", view.ShareID, view.ShareID)
	return exitOK
}

// refillKeys registers the one-time keys the service wants for hc's
// device and writes the device file at path when it gained any, a failure
// after some registrations too (the service knows those keys); saved is
// false, said on stderr, when the file could not be written.
func (h *holderCmd) refillKeys(ctx context.Context, hc *client.Holder, path string) (v *api.DeviceKeysView, saved bool, err error) {
	before := hc.Device().PoolSize()
	v, err = hc.RefillKeys(ctx, 0)
	if added := hc.Device().PoolSize() - before; added > 0 {
		if serr := hc.Device().Save(path); serr != nil {
			fmt.Fprintf(h.stderr, "%s: %d one-time keys registered, but the device file could not be written: %v\n", h.name, added, serr)
			return v, false, err
		}
	}
	return v, true, err
}

// keys registers the one-time keys the service wants (batch copies,
// issue 12) and writes them to the device file, even when a later
// registration fails: the service knows the keys registered before it.
func (h *holderCmd) keys(ctx context.Context, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	before := hc.Device().PoolSize()
	v, saved, err := h.refillKeys(ctx, hc, h.devicePath())
	if !saved {
		return exitInvalid
	}
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(v)
	}
	fmt.Fprintf(h.stdout, "%d one-time keys on this device (%d registered now); the service holds %d copies, %d keys free, batch size %d\n",
		hc.Device().PoolSize(), hc.Device().PoolSize()-before, v.Copies, v.Free, v.BatchSize)
	h.note("each share now presents a copy of its own; run 'eidwallet holder keys' again when shares say no copy is ready")
	return exitOK
}

// saveSpent writes the device file again after an approval that spent
// pool keys; a failure leaves spent keys in the file, which is harmless.
func (h *holderCmd) saveSpent(hc *client.Holder) {
	if hc.Device().PoolSize() == 0 {
		return
	}
	if err := hc.Device().Save(h.devicePath()); err != nil {
		h.note("the device file could not be updated (spent keys stay in it): %v", err)
	}
}

func (h *holderCmd) shares(ctx context.Context, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	list, err := hc.Shares(ctx)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(list)
	}
	if len(list) == 0 {
		h.note("no shares")
		return exitOK
	}
	tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARE\tSTATUS\tUSES\tEXPIRES\tVERIFIER\tCLAIMS")
	for _, s := range list {
		var what []string
		for _, it := range s.Items {
			what = append(what, it.Type+":"+strings.Join(it.Claims, ","))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", s.ShareID, s.Status, s.Uses, s.MaxUses,
			s.ExpiresAt.Local().Format(time.DateTime), orDash(s.VerifierID), strings.Join(what, " "))
	}
	tw.Flush()
	return exitOK
}

func (h *holderCmd) cancel(ctx context.Context, id string) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	if err := hc.CancelShare(ctx, id); err != nil {
		return h.failed(err)
	}
	h.note("share %s cancelled", id)
	return exitOK
}

func (h *holderCmd) activity(ctx context.Context, export bool, pg api.Page, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	if export {
		// The point of the export: anyone can check it, so check it here
		// as anyone would, without taking the service's word (SPEC §3.6).
		raw, err := hc.ExportActivityJSON(ctx)
		if err != nil {
			return h.failed(err)
		}
		jwks, err := h.c.ServiceJWKS(ctx)
		if err != nil {
			return h.failed(err)
		}
		chk, err := client.CheckActivityExport(raw, jwks, h.c.BaseURL())
		if err != nil {
			fmt.Fprintf(h.stderr, "%s: %v\n", h.name, err)
			return exitInvalid
		}
		// Printed as the service sent it, to keep with its checkpoint.
		fmt.Fprintf(h.stdout, "%s\n", raw)
		if chk.Chain != nil {
			h.note("activity chain BROKEN: %v", chk.Chain)
		} else {
			h.note("activity chain intact: %d entries, every hash recomputed here", chk.Entries)
		}
		if chk.Checkpoint != nil {
			h.note("activity checkpoint INVALID: %v", chk.Checkpoint)
		} else {
			h.note("activity checkpoint verified: %d entries up to head %s, signed by %s (service key %s) at %s",
				chk.Signed.Count, orDash(chk.Signed.Head), chk.Signed.Iss, chk.Kid, time.Unix(chk.Signed.Iat, 0).UTC().Format(time.RFC3339))
		}
		if !chk.OK() {
			return exitInvalid
		}
		return exitOK
	}
	res, err := hc.ActivityPage(ctx, pg)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(res)
	}
	if res.NextCursor != "" {
		defer h.note("older entries: --cursor %s", res.NextCursor)
	}
	if len(res.Entries) == 0 {
		h.note("no activity")
		return exitOK
	}
	tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tEVENT\tOUTCOME\tWHO\tCLAIMS")
	for _, a := range res.Entries {
		who := a.VerifierID
		if who == "" {
			who = a.IssuerID
		}
		if who == "" {
			who = a.DeviceID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.At.Local().Format(time.DateTime), a.Event, orDash(shown(a.Outcome)), orDash(shown(who)),
			orDash(shown(strings.Join(a.Claims, ","))))
	}
	tw.Flush()
	return exitOK
}

func (h *holderCmd) devices(ctx context.Context, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	list, err := hc.Devices(ctx)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(list)
	}
	tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tNAME\tENROLLED\tSTATE")
	for _, d := range list {
		state := "active"
		if d.Revoked != nil {
			state = "revoked " + d.Revoked.Local().Format(time.DateTime)
		}
		if d.Current {
			state += " (this device)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, shown(d.Name), d.Created.Local().Format(time.DateTime), state)
	}
	tw.Flush()
	return exitOK
}

func (h *holderCmd) revokeDevice(ctx context.Context, id string) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	if err := hc.RevokeDevice(ctx, id); err != nil {
		return h.failed(err)
	}
	h.note("device %s revoked: its credential copies can no longer be shared", id)
	if id == hc.Device().ID {
		h.note("that was this device: %s no longer works", h.devicePath())
	}
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Requests started by verifiers (SPEC §3.4).

func (h *holderCmd) presence(ctx context.Context, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	p, err := hc.Presence(ctx)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(p)
	}
	if art, err := qr.Terminal(p.QRText); err != nil {
		h.note("the QR code could not be drawn: %v", err)
	} else {
		fmt.Fprint(h.stdout, art)
	}
	fmt.Fprintln(h.stdout, p.QRText)
	fmt.Fprintf(h.stdout, "expires %s (in %s)\n", p.ExpiresAt.Local().Format(time.DateTime), time.Until(p.ExpiresAt).Round(time.Second))
	h.note("show the code to the staff; their request appears in 'eidwallet holder requests --wait 60'. It carries no data.")
	return exitOK
}

func (h *holderCmd) requests(ctx context.Context, wait time.Duration, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	list, err := hc.Requests(ctx, wait)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(nonNilList(list))
	}
	if len(list) == 0 {
		h.note("no request is waiting for your answer")
		return exitOK
	}
	for i, v := range list {
		if i > 0 {
			fmt.Fprintln(h.stdout)
		}
		h.printRequest(v)
	}
	return exitOK
}

func nonNilList[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// printRequest shows a request as the citizen should see it before
// answering: who asks (the verifier's registered name and category), why,
// and each claim, flagged when the verifier is not registered for it.
func (h *holderCmd) printRequest(v *api.RequestView) {
	fmt.Fprintf(h.stdout, "request %s  %s, expires %s\n", v.RequestID, v.Status, v.ExpiresAt.Local().Format(time.DateTime))
	fmt.Fprintf(h.stdout, "  from     %s (%s, verifier %s)\n", shown(v.Verifier.Name), shown(v.Verifier.Category), shown(v.Verifier.ID))
	if v.Verified != nil && !*v.Verified {
		fmt.Fprintf(h.stdout, "  NOT VERIFIED: its request is not signed by a trusted verifier; the name is only what it says\n")
	}
	fmt.Fprintf(h.stdout, "  purpose  %s\n", shown(v.Purpose))
	tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
	for i, c := range v.Claims {
		label := ""
		if i == 0 {
			label = "asks"
		}
		mark := ""
		if !c.Registered {
			mark = "\tNOT REGISTERED: this verifier may not ask for it"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", label, shown(c.Type), shown(c.Claim), mark)
	}
	tw.Flush()
}

func (h *holderCmd) resolveRequest(ctx context.Context, qrText string, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	v, err := hc.Resolve(ctx, strings.TrimSpace(qrText))
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(v)
	}
	h.printRequest(v)
	h.note("'eidwallet holder request approve %s --credential TYPE' answers; 'eidwallet holder request decline %s' says no", v.RequestID, v.RequestID)
	return exitOK
}

func (h *holderCmd) showRequest(ctx context.Context, id string, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	v, err := hc.GetRequest(ctx, id)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(v)
	}
	h.printRequest(v)
	return exitOK
}

// approveRequest answers a request with the chosen credentials: by default
// each with every claim the request asks of its type.
func (h *holderCmd) approveRequest(ctx context.Context, id string, items []api.ShareRequestItem, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	view, err := hc.GetRequest(ctx, id)
	if err != nil {
		return h.failed(err)
	}
	if err := h.resolveItems(ctx, hc, items); err != nil {
		return h.failed(err)
	}
	creds, err := hc.Credentials(ctx)
	if err != nil {
		return h.failed(err)
	}
	typeOf := map[string]string{}
	for _, c := range creds {
		typeOf[c.ID] = c.Type
	}
	var shared []string
	for i := range items {
		typ := typeOf[items[i].CredentialID]
		if len(items[i].Claims) == 0 {
			for _, c := range view.Claims {
				if c.Type == typ {
					items[i].Claims = append(items[i].Claims, c.Claim)
				}
			}
			if len(items[i].Claims) == 0 {
				return h.failed(fmt.Errorf("--credential %s: the request asks nothing of a %s", items[i].CredentialID, typ))
			}
		}
		for _, c := range items[i].Claims {
			shared = append(shared, typ+"."+c)
		}
	}
	v, err := hc.AnswerRequest(ctx, view, items)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(v)
	}
	h.note("request %s %s: %s shared with %s", v.RequestID, v.Status, strings.Join(shared, ", "), v.Verifier.Name)
	return exitOK
}

func (h *holderCmd) declineRequest(ctx context.Context, id string, asJSON bool) int {
	hc, code := h.holder()
	if hc == nil {
		return code
	}
	v, err := hc.DeclineRequest(ctx, id)
	if err != nil {
		return h.failed(err)
	}
	if asJSON {
		return h.printJSON(v)
	}
	h.note("request %s %s: %s learns only that you said no", v.RequestID, v.Status, v.Verifier.Name)
	return exitOK
}

// itemFlags adds the --credential / --claims pair: each --credential starts
// an item, and the --claims after it choose from that credential.
func itemFlags(fs *flag.FlagSet, items *[]api.ShareRequestItem, claimsHelp string) {
	fs.Func("credential", "credential `ID`, or a type (national_id) when you hold one of it; repeat for more", func(s string) error {
		if s = strings.TrimSpace(s); s == "" {
			return errors.New("empty credential")
		}
		*items = append(*items, api.ShareRequestItem{CredentialID: s})
		return nil
	})
	fs.Func("claims", claimsHelp, func(s string) error {
		if len(*items) == 0 {
			return errors.New("--claims comes after the --credential it chooses from")
		}
		last := &(*items)[len(*items)-1]
		last.Claims = append(last.Claims, splitList(s)...)
		return nil
	})
}
