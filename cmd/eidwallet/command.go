package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The client commands (admin, holder, verifier) have one shape: shared
// flags, a command of one word or of a group and an action ("issuers
// create"), its own flags and positional arguments in any order, then a
// call. dispatcher is that shape, written once; each client command is a
// table of commands.

// runFunc runs a command with its positional arguments and returns the
// exit code.
type runFunc func(ctx context.Context, pos []string) int

// command is one entry of a dispatcher's table.
type command struct {
	name  string // one word, or a group and an action: "issuers create"
	alias string // another name it answers to, not shown
	args  string // after the name in the usage text; later lines indented as printed
	help  string // its description in the usage text, lines separated by "\n"
	nargs int    // the positional arguments it takes; -n: at least n
	// run runs a command without flags of its own; setup, for one with
	// flags, registers them and returns what runs it.
	run   runFunc
	setup func(fs *flag.FlagSet) runFunc
}

// dispatcher runs one client command ("eidwallet admin ...") from its
// table.
type dispatcher struct {
	*cmdEnv
	head, tail string // the usage text before and after the list of commands
	col        int    // the column where the commands' help starts
	commands   []command
	// flags registers the shared flags, given before the command (name
	// "") and again after it.
	flags func(fs *flag.FlagSet, name string)
}

// usageText is the usage text: head, a line or more per command, tail.
func (d *dispatcher) usageText() string {
	var b strings.Builder
	b.WriteString(d.head)
	for _, c := range d.commands {
		writeCommand(&b, d.col, strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	b.WriteString(d.tail)
	return b.String()
}

// writeCommand writes one command of a usage text: its synopsis indented
// two spaces, then its help from column col, on the same line when the
// synopsis leaves room.
func writeCommand(b *strings.Builder, col int, synopsis, help string) {
	line := "  " + synopsis
	b.WriteString(line)
	last := len(line) - strings.LastIndex(line, "\n") - 1
	for i, h := range strings.Split(help, "\n") {
		if h == "" {
			continue
		}
		if i == 0 && last < col {
			b.WriteString(strings.Repeat(" ", col-last))
		} else {
			b.WriteString("\n" + strings.Repeat(" ", col))
		}
		b.WriteString(h)
	}
	b.WriteString("\n")
}

// run parses args and runs the command they name. Exit codes: the
// command's, or exitUsage for a bad command line (exitOK for -h).
func (d *dispatcher) run(ctx context.Context, args []string) int {
	usage := d.usageText()
	top := d.flagSet(d.name, usage)
	d.flags(top, "")
	args, code, ok := d.parseTop(top, args, usage)
	if !ok {
		return code
	}
	name, args := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(d.stdout, usage)
		return exitOK
	}
	if actions := d.actions(name); len(actions) > 0 {
		if len(args) == 0 {
			return d.usage("%s needs a subcommand: %s", name, orList(actions))
		}
		name, args = name+" "+args[0], args[1:]
	}
	cmd := d.find(name)
	if cmd == nil {
		return d.usage("unknown command %q", name)
	}
	leaf := d.flagSet(d.name+" "+cmd.name, usage)
	d.flags(leaf, cmd.name)
	run := cmd.run
	if cmd.setup != nil {
		run = cmd.setup(leaf)
	}
	pos, err := parseInterspersed(leaf, args)
	if err != nil {
		return d.parseExit(err)
	}
	switch {
	case cmd.nargs < 0 && len(pos) < -cmd.nargs:
		return d.usage("%s takes at least %d argument(s), got %d", cmd.name, -cmd.nargs, len(pos))
	case cmd.nargs >= 0 && len(pos) != cmd.nargs:
		return d.usage("%s takes %d argument(s), got %d", cmd.name, cmd.nargs, len(pos))
	}
	return run(ctx, pos)
}

// actions lists the actions of group name (none when it is not a group).
func (d *dispatcher) actions(name string) []string {
	var out []string
	for _, c := range d.commands {
		if action, ok := strings.CutPrefix(c.name, name+" "); ok {
			out = append(out, action)
		}
	}
	return out
}

func (d *dispatcher) find(name string) *command {
	for i, c := range d.commands {
		if c.name == name || c.alias != "" && c.alias == name {
			return &d.commands[i]
		}
	}
	return nil
}

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
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

// usage reports a bad command line and returns exitUsage.
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
	case errors.As(err, &ce) && ce.Code == api.CodeInvalidGrant:
		// The token endpoint refused the device's assertion (RFC 7523 §3.1).
		fmt.Fprintf(e.stderr, "hint: the service at %s no longer takes this device (revoked, or enrolled elsewhere); enrol again with a new activation code\n", baseURL)
	case errors.As(err, &oe) && oe.Op == "dial":
		fmt.Fprintf(e.stderr, "hint: is the service running at %s? (--url, EIDWALLET_URL)\n", baseURL)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintln(e.stderr, "hint: no answer in time (--timeout)")
	}
	return exitInvalid
}

// outputJSON prints results as the service answers them
// (wallet.AnswerOptions: the bytes encoding/json gave them).
var outputJSON = wallet.AnswerOptions

// printJSON prints v on stdout, indented.
func (e *cmdEnv) printJSON(v any) int {
	b, err := json.Marshal(v, outputJSON, jsontext.WithIndent("  "))
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: encode result: %v\n", e.name, err)
		return exitInvalid
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
	return exitOK
}

// jsonText is v as compact JSON.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v, outputJSON)
	return string(b), err
}

// parseInterspersed parses fs over args allowing flags after positional
// arguments ("issuers rotate-key mps --url ..."), and returns the
// positional ones, in order. A word is a flag only if it looks like one
// (flagLike): a key id may begin with "-" (base64url), and is then an
// argument, not a flag to refuse. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case flagLike.MatchString(a):
			flags = append(flags, a)
			name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if f := fs.Lookup(name); f != nil && !inline && !isBoolFlag(f) && i+1 < len(args) {
				i++
				flags = append(flags, args[i]) // its value, whatever it looks like
			}
		default:
			pos = append(pos, a)
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return pos, nil
}

// flagLike is how a flag is written: one or two dashes, a name of
// lower-case letters, digits and dashes, and perhaps =value.
var flagLike = regexp.MustCompile(`^--?[a-z][a-z0-9-]*(=.*)?$`)

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
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

// Flags shared by the client commands.

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
