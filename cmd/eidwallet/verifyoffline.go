package main

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/offline"
)

const verifyOfflineUsage = `usage: eidwallet verify-offline --bundle FILE --bundle-jwks FILE [--seen FILE] [--now SECONDS] < code

Reads an EIDC1: code on stdin and checks it with no network against a saved
trust bundle (GET /v1/trust-bundle), itself checked with the service's key
set (GET /.well-known/jwks.json): signed by an attestation key of the bundle
that may attest its type, of an issuer of the bundle for that type, its
credential's status valid in the bundle's list, not expired. A bundle older
than its maximum age, or a clock before its issue time, cannot verify
offline (reason cannot_verify_offline: fail closed). Prints {"valid",
"reason", "type", "issuer", "claims", "expires_at", "cti"} as JSON (cti in
base64url, as POST /v1/verifier/offline-verifications takes it); exit 0
valid, 1 refused, 2 a bad command line or a file that cannot be read.
With --seen, the counter's seen-cti store (THREATS T39): a code whose cti
the file holds is refused (reason already_used), and a valid one's is
added; the file is made if missing (0600), and a cti is kept until ten
minutes after its code expired. Runs at once may share the file: each
takes FILE.lock (made beside it) while it reads and writes, so of two
scans of one code one is refused. Without it nothing stops a second scan
at this counter.
`

// offlineResult is what verify-offline prints.
type offlineResult struct {
	Valid     bool           `json:"valid"`
	Reason    offline.Reason `json:"reason,omitempty"`
	Type      string         `json:"type,omitempty"`
	Issuer    string         `json:"issuer,omitempty"`
	Claims    map[string]any `json:"claims,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	CTI       string         `json:"cti,omitempty"` // base64url, as POST /v1/verifier/offline-verifications takes it
}

func verifyOffline(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify-offline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, verifyOfflineUsage)
		fs.PrintDefaults()
	}
	bundlePath := fs.String("bundle", "", "the trust bundle `file` (GET /v1/trust-bundle)")
	jwksPath := fs.String("bundle-jwks", "", "JWKS `file` of the service key that signs the bundle (GET /.well-known/jwks.json)")
	nowFlag := fs.String("now", "", "verification time in unix `seconds` (default: the clock)")
	seenPath := fs.String("seen", "", "this counter's seen-cti `file`: a code seen before is refused")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h: the usage is printed
			return exitOK
		}
		return exitUsage
	}
	usageError := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "verify-offline: "+format+"\n", args...)
		return exitUsage
	}
	if fs.NArg() != 0 || *bundlePath == "" || *jwksPath == "" {
		fs.Usage()
		return exitUsage
	}
	now := time.Now()
	if *nowFlag != "" {
		sec, err := strconv.ParseInt(*nowFlag, 10, 64)
		if err != nil {
			return usageError("--now must be unix seconds: %v", err)
		}
		now = time.Unix(sec, 0)
	}
	keys, err := readJWKSFile(*jwksPath)
	if err != nil {
		return usageError("%v", err)
	}
	raw, err := readCapped(*bundlePath, offline.MaxBundleBytes)
	if err != nil {
		return usageError("%v", err)
	}
	var serviceKeys []*ecdsa.PublicKey
	for _, k := range keys {
		serviceKeys = append(serviceKeys, k)
	}
	print := func(r offlineResult) int {
		out, _ := json.Marshal(r, json.Deterministic(true))
		fmt.Fprintf(stdout, "%s\n", out)
		if !r.Valid {
			return exitInvalid
		}
		return exitOK
	}
	b, err := offline.ReadBundle(raw, serviceKeys, now)
	if err != nil {
		return print(offlineResult{Reason: offline.ReasonOf(err)})
	}
	in, err := io.ReadAll(io.LimitReader(stdin, offline.MaxTextBytes+2))
	if err != nil {
		return usageError("read stdin: %v", err)
	}
	s, err := b.Verify(string(bytes.TrimSpace(in)), now)
	if err != nil {
		return print(offlineResult{Reason: offline.ReasonOf(err)})
	}
	exp := s.ExpiresAt
	cti := base64.RawURLEncoding.EncodeToString(s.CTI)
	if *seenPath != "" {
		fresh, err := markSeen(*seenPath, cti, exp, now)
		if err != nil {
			fmt.Fprintf(stderr, "verify-offline: the seen-cti store: %v\n", err)
			return exitUsage // fail closed: a code that cannot be recorded is not accepted
		}
		if !fresh {
			return print(offlineResult{Reason: offline.ReasonAlreadyUsed, CTI: cti})
		}
	}
	return print(offlineResult{Valid: true, Type: s.Type, Issuer: s.IssuerID, Claims: s.Claims, ExpiresAt: &exp, CTI: cti})
}

// keepSeen is how long a cti is kept after its code expired (a clock that
// drifts cannot make a seen code new), as the staff page keeps it.
const keepSeen = 10 * time.Minute

// markSeen records cti, of a code valid until exp, in the seen-cti file at
// path, and reports whether it was not there: one line per cti, "cti
// unix-expiry", those expired longer than keepSeen dropped as it is
// written again (writeSecretFile: whole, 0600). The read, the check and
// the write are one step under an exclusive lock of path+".lock" (a
// file never replaced, as path is), so that of two scans of one code at
// once, by two processes, one is refused, and neither drops the other's
// line (THREATS T39).
func markSeen(path, cti string, exp, now time.Time) (bool, error) {
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	defer lock.Close() // and the lock with it
	if err := lockFile(lock); err != nil {
		return false, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	old, err := readCapped(path, 16<<20)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	var kept []string
	for _, line := range strings.Split(string(old), "\n") {
		c, e, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(e, 10, 64)
		if err != nil || now.After(time.Unix(sec, 0).Add(keepSeen)) {
			continue
		}
		if c == cti {
			return false, nil
		}
		kept = append(kept, line)
	}
	kept = append(kept, cti+" "+strconv.FormatInt(exp.Unix(), 10))
	return true, writeSecretFile(path, []byte(strings.Join(kept, "\n")+"\n"))
}

// readCapped reads a file of at most max bytes (SPEC §6: capped before
// it is parsed).
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d KiB", path, max>>10)
	}
	return b, nil
}
