package main

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/credentials"
)

// maxTrustFileBytes caps each key set, issuer metadata or trust list file
// before it is parsed (SPEC §6).
const maxTrustFileBytes = credentials.MaxTrustListBytes

// verifyResult is what verify-presentation prints.
type verifyResult struct {
	Valid      bool                   `json:"valid"`
	Reason     credentials.Reason     `json:"reason,omitempty"`
	Issuer     string                 `json:"issuer,omitempty"`
	VCT        string                 `json:"vct,omitempty"`
	Disclosed  []string               `json:"disclosed,omitempty"`
	Claims     map[string]any         `json:"claims,omitempty"`
	KeyBinding *credentials.KB        `json:"key_binding,omitempty"`
	Status     *credentials.StatusRef `json:"status,omitempty"`
}

const verifyUsage = `usage: eidwallet verify-presentation TRUST [flags] < presentation

Reads an SD-JWT or SD-JWT+KB on stdin, verifies it (RFC 9901 §7.1, §7.3, and
the SD-JWT VC rules unless --profile plain) and prints {"valid", "reason",
"issuer", "vct", "claims"} as JSON. Every key is trusted for one issuer
only, and each issuer only for the types it is given (THREATS T4, T37):
a credential signed with a key of another issuer than its iss is
untrusted_issuer, one of a type its issuer is not trusted for is
issuer_not_authorized_for_type.

TRUST is one of:
  --trust FILE --trust-jwks FILE
      the service's signed trust list (GET /trust-list), checked with the
      service's key set (GET /.well-known/jwks.json): it binds each issuer
      to its keys and types. A list that does not verify, is expired or is
      signed by a key not in the set is refused (exit 2). --vct, if given,
      narrows the types accepted further.
  --issuer FILE --vct VCT [--vct VCT ...] [--issuer FILE --vct VCT ...]
      SD-JWT VC issuer metadata, as served at
      /.well-known/jwt-vc-issuer/issuers/{id} ({"issuer", "jwks"}): its keys
      are trusted for that issuer, for the vct given after it only.
  --jwks FILE --iss ISSUER [--vct VCT ...]
      one issuer's JWKS (GET /issuers/{id}/jwks.json): all its keys belong
      to the issuer ISSUER (the iss of its credentials); without --vct, for
      any type.

Each file is at most 64 KiB and strict JSON (a repeated member is refused).
Exits 1 when the presentation is not valid, 2 on a usage error or when the
trust inputs cannot be used (nothing was verified then). Status lists are
not fetched: pass the status reference it prints to the issuer's status
list.

flags:
`

// issuerArg is one --issuer file and the --vct given after it.
type issuerArg struct {
	path string
	vcts []string
}

// verifyPresentation checks a presentation offline: the verifier's own
// check of the presentation field of a /v1/verify answer (SPEC §3.3 step 4).
func verifyPresentation(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify-presentation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, verifyUsage)
		fs.PrintDefaults()
	}
	var issuers []*issuerArg
	var vcts []string // --vct given before any --issuer
	fs.Func("issuer", "SD-JWT VC issuer metadata `file` (repeatable; each followed by its --vct)", func(p string) error {
		issuers = append(issuers, &issuerArg{path: p})
		return nil
	})
	fs.Func("vct", "accept this `vct` (repeatable): from the --issuer just before, the --jwks issuer, or any issuer of --trust", func(v string) error {
		if v == "" {
			return errors.New("vct is empty")
		}
		if n := len(issuers); n > 0 {
			issuers[n-1].vcts = append(issuers[n-1].vcts, v)
		} else {
			vcts = append(vcts, v)
		}
		return nil
	})
	jwksPath := fs.String("jwks", "", "JWKS `file` of one issuer's keys (with --iss)")
	iss := fs.String("iss", "", "the issuer `identifier` the --jwks keys belong to")
	trustPath := fs.String("trust", "", "the service's signed trust list `file` (with --trust-jwks)")
	trustJWKS := fs.String("trust-jwks", "", "JWKS `file` of the service key that signs the trust list")
	nonce := fs.String("nonce", "", "expected KB-JWT nonce")
	aud := fs.String("aud", "", "expected KB-JWT aud")
	now := fs.String("now", "", "verification time in unix `seconds` (default: the clock); also the trust list's")
	requireKB := fs.Bool("require-kb", false, "require key binding (then --nonce and --aud are compared even when empty)")
	profile := fs.String("profile", "vc", "`vc` (SD-JWT VC) or plain (RFC 9901 only, generic SD-JWTs)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h: the usage is printed
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	usageError := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "verify-presentation: "+format+"\n", args...)
		return exitUsage
	}
	opts := credentials.VerifyOptions{Now: time.Now(), RequireKB: *requireKB, Nonce: *nonce, Audience: *aud}
	switch *profile {
	case "vc":
		opts.Profile = credentials.ProfileVC
	case "plain":
		opts.Profile = credentials.ProfilePlain
	default:
		return usageError("--profile must be vc or plain, not %q", *profile)
	}
	if *now != "" {
		sec, err := strconv.ParseInt(*now, 10, 64)
		if err != nil {
			return usageError("--now must be unix seconds: %v", err)
		}
		opts.Now = time.Unix(sec, 0)
	}

	var trust credentials.Trust
	var err error
	switch sources := btoi(*jwksPath != "") + btoi(len(issuers) > 0) + btoi(*trustPath != ""); {
	case sources != 1:
		fs.Usage()
		return usageError("give exactly one of --trust, --issuer or --jwks: the keys to trust and whose they are")
	case *trustJWKS != "" && *trustPath == "":
		return usageError("--trust-jwks checks a --trust list; give --trust too")
	case *iss != "" && *jwksPath == "":
		return usageError("--iss names the issuer of a --jwks file; --trust and --issuer name their issuers themselves")
	case opts.Profile == credentials.ProfilePlain && (len(vcts) > 0 || slices.ContainsFunc(issuers, func(a *issuerArg) bool { return len(a.vcts) > 0 })):
		return usageError("--profile plain checks no vct; drop --vct")
	case *jwksPath != "":
		if *iss == "" {
			return usageError("--jwks holds one issuer's keys: name that issuer with --iss (the iss of its credentials); for several issuers use --issuer or --trust")
		}
		trust, err = jwksTrust(*jwksPath, *iss, vcts)
	case len(issuers) > 0:
		if len(vcts) > 0 {
			return usageError("put each --vct after the --issuer it applies to")
		}
		trust, err = issuerTrust(issuers, opts.Profile == credentials.ProfileVC)
	default:
		if *trustJWKS == "" {
			return usageError("--trust needs --trust-jwks, the service key set that signs it")
		}
		trust, err = listTrust(*trustPath, *trustJWKS, vcts, opts.Now)
	}
	if err != nil {
		return usageError("%v", err)
	}

	// Cap before reading it all (SPEC §6): one byte over the limit is enough
	// to know it is too large.
	in, err := io.ReadAll(io.LimitReader(stdin, credentials.MaxSDJWTBytes+2))
	if err != nil {
		return usageError("read stdin: %v", err)
	}
	res := check(string(bytes.TrimSpace(in)), trust, opts)
	out, err := json.Marshal(res, json.Deterministic(true))
	if err != nil {
		return usageError("%v", err)
	}
	fmt.Fprintf(stdout, "%s\n", out)
	if !res.Valid {
		return exitInvalid
	}
	return exitOK
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// jwksTrust trusts the keys of one issuer's JWKS for that issuer, and for
// vcts only when given.
func jwksTrust(path, iss string, vcts []string) (credentials.Trust, error) {
	keys, err := readJWKSFile(path)
	if err != nil {
		return nil, err
	}
	ts := credentials.NewTrustStore()
	ts.AddIssuer(iss, keys, vcts...)
	return ts, nil
}

// issuerMetadata is SD-JWT VC issuer metadata (SD-JWT VC draft §5).
type issuerMetadata struct {
	Issuer  string         `json:"issuer"`
	JWKS    jsontext.Value `json:"jwks"`
	JWKSURI string         `json:"jwks_uri"`
}

// issuerTrust trusts each metadata file's keys for its issuer and the vct
// given after it. A kid in two files, or one issuer in two files, is
// refused: a key belongs to exactly one issuer.
func issuerTrust(args []*issuerArg, needVCT bool) (credentials.Trust, error) {
	ts := credentials.NewTrustStore()
	kidFile, issFile := map[string]string{}, map[string]string{}
	for _, a := range args {
		if needVCT && len(a.vcts) == 0 {
			return nil, fmt.Errorf("--issuer %s: name the vct this issuer may sign with --vct after it", a.path)
		}
		data, err := readTrustFile(a.path)
		if err != nil {
			return nil, err
		}
		var meta issuerMetadata
		if err := json.Unmarshal(data, &meta); err != nil {
			return nil, fmt.Errorf("%s: not issuer metadata: %w", a.path, err)
		}
		switch {
		case meta.Issuer == "":
			return nil, fmt.Errorf("%s: issuer metadata has no issuer", a.path)
		case meta.JWKS == nil && meta.JWKSURI != "":
			return nil, fmt.Errorf("%s: the metadata gives jwks_uri, not jwks: fetch the key set and verify with --jwks", a.path)
		case meta.JWKS == nil:
			return nil, fmt.Errorf("%s: issuer metadata has no jwks", a.path)
		case issFile[meta.Issuer] != "":
			return nil, fmt.Errorf("%s and %s are both issuer %s", issFile[meta.Issuer], a.path, meta.Issuer)
		}
		issFile[meta.Issuer] = a.path
		keys, err := parseJWKS(meta.JWKS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.path, err)
		}
		for kid := range keys {
			if other := kidFile[kid]; other != "" {
				return nil, fmt.Errorf("key %s is in both %s and %s: a key belongs to one issuer", kid, other, a.path)
			}
			kidFile[kid] = a.path
		}
		ts.AddIssuer(meta.Issuer, keys, a.vcts...)
	}
	return ts, nil
}

// listTrust verifies the signed trust list with the signer's key set and
// trusts what it binds, narrowed to vcts when given.
func listTrust(path, jwksPath string, vcts []string, now time.Time) (credentials.Trust, error) {
	signers, err := readJWKSFile(jwksPath)
	if err != nil {
		return nil, err
	}
	token, err := readTrustFile(path)
	if err != nil {
		return nil, err
	}
	list, err := credentials.VerifyTrustList(string(bytes.TrimSpace(token)), signers, now)
	if err != nil {
		// The detail alone: the reason words name presentation failures.
		var ve *credentials.Error
		if errors.As(err, &ve) && ve.Detail != "" {
			err = errors.New(ve.Detail)
		}
		return nil, fmt.Errorf("trust list %s refused: %w", path, err)
	}
	var trust credentials.Trust = list.TrustStore()
	if len(vcts) > 0 {
		allowed := map[string]bool{}
		for _, v := range vcts {
			allowed[v] = true
		}
		trust = allowTypes{Trust: trust, vct: allowed}
	}
	return trust, nil
}

// allowTypes narrows a Trust to the vct the verifier accepts.
type allowTypes struct {
	credentials.Trust
	vct map[string]bool
}

func (a allowTypes) MayIssue(iss, vct string) bool { return a.vct[vct] && a.Trust.MayIssue(iss, vct) }

// readTrustFile reads at most maxTrustFileBytes of a file, refusing a
// larger one before anything in it is parsed.
func readTrustFile(path string) ([]byte, error) { return readCapped(path, maxTrustFileBytes) }

// readJWKSFile is the P-256 keys of the JWKS file at path (see
// readTrustFile and parseJWKS).
func readJWKSFile(path string) (map[string]*ecdsa.PublicKey, error) {
	data, err := readTrustFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// parseJWKS reads a JWKS strictly (a repeated member anywhere is refused,
// which the JWK parser alone would let pass) and returns its P-256 keys.
func parseJWKS(data []byte) (map[string]*ecdsa.PublicKey, error) {
	var v jsontext.Value
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not a JSON key set: %w", err)
	}
	return credentials.ParseJWKS(data)
}

func check(pres string, trust credentials.Trust, opts credentials.VerifyOptions) verifyResult {
	v, err := credentials.Verify(pres, trust, opts)
	if err != nil {
		var ve *credentials.Error
		if errors.As(err, &ve) {
			return verifyResult{Reason: ve.Reason}
		}
		return verifyResult{Reason: credentials.ReasonMalformed}
	}
	return verifyResult{
		Valid: true, Issuer: v.Issuer, VCT: v.VCT, Disclosed: v.Disclosed,
		Claims: v.Claims, KeyBinding: v.KB, Status: v.Status,
	}
}
