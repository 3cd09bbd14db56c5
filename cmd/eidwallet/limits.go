package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/eidwallet/eidwallet/server"
)

// limitFlags are the rate limits of SPEC §6 as serve flags, each also an
// EIDWALLET_LIMIT_* variable: --limit-verify-per-key → EIDWALLET_LIMIT_VERIFY_PER_KEY.
// Over PostgreSQL every replica takes from one bucket per limit and key,
// so a figure is the deployment's, whatever the number of replicas.
func limitFlags(rl *server.RateLimits) []limitFlag {
	return []limitFlag{
		{"verify-per-key", "POST /v1/verify and /v1/verifier/offline-verifications per verifier API key", &rl.VerifyPerKey},
		{"verify-per-addr", "POST /v1/verify and the OpenID4VP request and response URIs per client address", &rl.VerifyPerAddr},
		{"token-per-addr", "POST /v1/token per client address", &rl.TokenPerAddr},
		{"enroll-per-addr", "POST /v1/enrollments per client address", &rl.EnrollPerAddr},
		{"shares-per-holder", "POST /v1/me/shares and requests:resolve per citizen", &rl.SharesPerHolder},
		{"requests-per-key", "POST /v1/verifier/requests per verifier API key", &rl.RequestsPerKey},
		{"presence-per-holder", "POST /v1/me/presence per citizen", &rl.PresencePerHolder},
	}
}

// limitFlag is one limit's flag: --limit-<name>.
type limitFlag struct {
	name, usage string
	limit       *server.Limit
}

// registerLimits registers the limit flags on fs, their defaults the
// EIDWALLET_LIMIT_* variables' or else server.DefaultRateLimits.
func registerLimits(fs *flag.FlagSet, rl *server.RateLimits, env func(name, def string) string) error {
	*rl = server.DefaultRateLimits()
	for _, f := range limitFlags(rl) {
		v := limitValue{f.limit}
		name := "LIMIT_" + strings.ToUpper(strings.ReplaceAll(f.name, "-", "_"))
		if s := env(name, ""); s != "" {
			if err := v.Set(s); err != nil {
				return fmt.Errorf("EIDWALLET_%s: %w", name, err)
			}
		}
		fs.Var(v, "limit-"+f.name, "rate `limit` of "+f.usage+": N/s, N/m or N/h, then ,burst (off: none)")
	}
	return nil
}

// limitValue is a server.Limit as a flag: "50/s,100" is 50 a second with
// bursts of 100; "30/m,10" 30 a minute, 10 at once; "off" no limit.
type limitValue struct{ l *server.Limit }

func (v limitValue) String() string {
	if v.l == nil {
		return ""
	}
	if v.l.Rate == rate.Inf {
		return "off"
	}
	per, unit := float64(v.l.Rate), "s"
	switch {
	case per >= 1:
	case per*60 >= 1:
		per, unit = per*60, "m"
	default:
		per, unit = per*3600, "h"
	}
	return strconv.FormatFloat(per, 'f', -1, 64) + "/" + unit + "," + strconv.Itoa(v.l.Burst)
}

func (v limitValue) Set(s string) error {
	if s == "off" {
		*v.l = server.Limit{Rate: rate.Inf, Burst: 1}
		return nil
	}
	perUnit, burst, ok := strings.Cut(s, ",")
	count, unit, ok2 := strings.Cut(perUnit, "/")
	n, err1 := strconv.ParseFloat(count, 64)
	b, err2 := strconv.Atoi(burst)
	d := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok || !ok2 || err1 != nil || err2 != nil || d == 0 || !(n > 0) || math.IsInf(n, 0) || b < 1 {
		return fmt.Errorf("%q: want N/s, N/m or N/h then ,burst (50/s,100), or off", s)
	}
	*v.l = server.Limit{Rate: rate.Limit(n / d.Seconds()), Burst: b}
	return nil
}
