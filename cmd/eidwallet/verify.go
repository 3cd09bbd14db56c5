package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/credentials"
)

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

// verifyPresentation checks a presentation offline: the verifier's own
// check of the presentation field of a /v1/verify answer (SPEC §3.3 step 4).
func verifyPresentation(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify-presentation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: eidwallet verify-presentation --jwks FILE [flags] < presentation

Reads an SD-JWT or SD-JWT+KB on stdin, verifies it (RFC 9901 §7.1, §7.3, and
the SD-JWT VC rules unless --profile plain) with the keys of a JWKS file, and
prints {"valid", "reason", "issuer", "vct", "claims"} as JSON. Exits 1 when
the presentation is not valid, 2 on a usage error. Status lists are not
fetched: pass the status reference it prints to the issuer's status list.

flags:
`)
		fs.PrintDefaults()
	}
	jwksPath := fs.String("jwks", "", "JWKS `file` of the issuer keys to trust (required)")
	iss := fs.String("iss", "", "trust the keys only for this issuer `identifier` (default: any iss)")
	vct := fs.String("vct", "", "accept only this `vct` (default: any)")
	nonce := fs.String("nonce", "", "expected KB-JWT nonce")
	aud := fs.String("aud", "", "expected KB-JWT aud")
	now := fs.String("now", "", "verification time in unix `seconds` (default: the clock)")
	requireKB := fs.Bool("require-kb", false, "require key binding (then --nonce and --aud are compared even when empty)")
	profile := fs.String("profile", "vc", "`vc` (SD-JWT VC) or plain (RFC 9901 only, generic SD-JWTs)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 || *jwksPath == "" {
		fs.Usage()
		return exitUsage
	}
	opts := credentials.VerifyOptions{Now: time.Now(), RequireKB: *requireKB, Nonce: *nonce, Audience: *aud}
	switch *profile {
	case "vc":
		opts.Profile = credentials.ProfileVC
	case "plain":
		opts.Profile = credentials.ProfilePlain
	default:
		fmt.Fprintf(stderr, "verify-presentation: --profile must be vc or plain, not %q\n", *profile)
		return exitUsage
	}
	if *now != "" {
		sec, err := strconv.ParseInt(*now, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "verify-presentation: --now must be unix seconds: %v\n", err)
			return exitUsage
		}
		opts.Now = time.Unix(sec, 0)
	}
	jwks, err := os.ReadFile(*jwksPath)
	if err != nil {
		fmt.Fprintf(stderr, "verify-presentation: %v\n", err)
		return exitUsage
	}
	keys, err := credentials.ParseJWKS(jwks)
	if err != nil {
		fmt.Fprintf(stderr, "verify-presentation: %s: %v\n", *jwksPath, err)
		return exitUsage
	}
	trust := credentials.NewTrustStore()
	if *vct != "" {
		trust.AddIssuer(*iss, keys, *vct)
	} else {
		trust.AddIssuer(*iss, keys)
	}
	// Cap before reading it all (SPEC §6): one byte over the limit is enough
	// to know it is too large.
	in, err := io.ReadAll(io.LimitReader(stdin, credentials.MaxSDJWTBytes+2))
	if err != nil {
		fmt.Fprintf(stderr, "verify-presentation: read stdin: %v\n", err)
		return exitUsage
	}
	res := check(string(bytes.TrimSpace(in)), trust, opts)
	out, err := json.Marshal(res, json.Deterministic(true))
	if err != nil {
		fmt.Fprintf(stderr, "verify-presentation: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s\n", out)
	if !res.Valid {
		return exitInvalid
	}
	return exitOK
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
