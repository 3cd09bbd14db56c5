package wallet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// Outbound requests (SPEC §6, THREATS T36). The service's outbound
// requests are webhook deliveries, to URLs an administrator set, and for
// OpenID4VP (issue 11) the request objects and responses of the links
// citizens scan and external issuers' metadata and status lists; each one
// could otherwise reach what only the service can reach (the cloud metadata
// endpoint, the private network, its own admin API on loopback). So a target
// is checked twice:
//   - when it is set: https only, and an IP literal must be a public
//     unicast address in standard form (the other spellings resolvers
//     accept, such as 127.1 or 0x7f000001, are refused);
//   - on every connection: the dialer's Control hook refuses any address
//     that is not public unicast, after DNS and before connect, so a name
//     that resolves (or is later rebound) to a refused address never gets a
//     connection.
//
// Loopback, over http or https, is allowed in addition only in development
// mode (Config.AllowLoopbackWebhooks); no private, link-local or other
// special-purpose range ever is.

// Webhook delivery limits: short timeouts, a capped response read, no
// redirects (a redirect would re-post the signed result to a URL nobody
// set).
const (
	webhookTimeout       = 10 * time.Second // the whole exchange
	webhookDialTimeout   = 5 * time.Second
	webhookHeaderTimeout = 5 * time.Second // TLS handshake; response headers
	maxWebhookURL        = 2048
	maxWebhookResponse   = 64 << 10 // bytes of the receiver's answer read (then discarded)
	maxWebhookHeaders    = 16 << 10
)

// outboundPolicy says which addresses outbound requests may go to.
type outboundPolicy struct {
	allowLoopback bool // development only
}

// specialRange is a special-purpose block that is not public unicast.
type specialRange struct {
	prefix netip.Prefix
	rule   string
}

// specialRanges are the special-purpose blocks of the IANA IPv4 and IPv6
// Special-Purpose Address Registries (RFC 6890 and its updates) that the
// netip predicates in refusedBy do not already name. Blocks the registries
// mark globally reachable but where no webhook receiver lives (6to4,
// Teredo) are refused too. Read-only.
var specialRanges = []specialRange{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address (RFC 791)`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared address for carrier-grade NAT (RFC 6598)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address (RFC 5737)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay anycast address (RFC 7526)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address (RFC 5737)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address (RFC 1112, RFC 919)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use translation address (RFC 8215)"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address (RFC 6666)"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol assignment, Teredo among them (RFC 2928, RFC 4380)"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address (RFC 3849)"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address (RFC 3056)"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address (RFC 9637)"},
	{netip.MustParsePrefix("5f00::/16"), "an SRv6 SID (RFC 9602)"},
}

var (
	nat64Prefix   = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 §2.1: the IPv4 address is the last 32 bits
	globalUnicast = netip.MustParsePrefix("2000::/3")     // RFC 4291 §2.4: the only IPv6 global unicast space allocated
)

// refusedBy names the rule that keeps outbound requests from a, or is ""
// when a is allowed: a public unicast address, or under allowLoopback a
// loopback one.
func (p outboundPolicy) refusedBy(a netip.Addr) string {
	if !a.IsValid() {
		return "not an IP address"
	}
	if a.Zone() != "" {
		return "an address with a zone"
	}
	a = a.Unmap() // ::ffff:a.b.c.d is a.b.c.d on the wire (RFC 4291 §2.5.5.2)
	switch {
	case a.IsLoopback():
		if p.allowLoopback {
			return ""
		}
		return "a loopback address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsLinkLocalUnicast():
		return "a link-local address, cloud metadata among them (RFC 3927, RFC 4291)"
	case a.IsMulticast():
		return "a multicast address"
	case a.IsPrivate() && a.Is4():
		return "a private-use address (RFC 1918)"
	case a.IsPrivate():
		return "a unique local address (RFC 4193)"
	case nat64Prefix.Contains(a):
		// Translated to its IPv4 address by a NAT64 gateway: that address
		// decides, and loopback is never reachable through a gateway.
		b := a.As16()
		if rule := (outboundPolicy{}).refusedBy(netip.AddrFrom4([4]byte(b[12:]))); rule != "" {
			return "a NAT64 address (RFC 6052) of " + rule
		}
		return ""
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			return r.rule
		}
	}
	if a.Is6() && !globalUnicast.Contains(a) {
		return "outside the IPv6 global unicast space 2000::/3 (RFC 4291)"
	}
	if !a.IsGlobalUnicast() {
		return "not a global unicast address"
	}
	return ""
}

// checkURL is the check when a webhook URL is set: an absolute https URL
// with no credentials in it, whose host is a DNS name or an IP address in
// standard form that refusedBy allows. In development mode plain http is
// allowed to a loopback address. A name is judged by the addresses it
// resolves to, when it is dialled (control): localhost passes here and
// gets no connection. The message says which rule was broken.
func (p outboundPolicy) checkURL(raw string) error {
	bad := func(msg string) error { return Errorf(api.CodeInvalidRequest, "url: %s", msg) }
	if len(raw) > maxWebhookURL {
		return bad("must be at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return bad("must be an absolute https URL")
	}
	if u.User != nil {
		return bad("must not carry a user name or password")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("the port must be 1 to 65535")
		}
	}
	host, loopback := u.Hostname(), false
	if a, err := netip.ParseAddr(host); err == nil {
		if rule := p.refusedBy(a); rule != "" {
			return bad("the host is " + rule + "; the service connects only to public unicast addresses")
		}
		loopback = a.Unmap().IsLoopback()
	} else if msg := checkHostName(host); msg != "" {
		return bad(msg)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback: // loopback passed refusedBy: development mode
		return nil
	case p.allowLoopback:
		return bad("the scheme must be https (plain http only to a loopback address in development mode)")
	default:
		return bad("the scheme must be https")
	}
}

// checkHostName says what is wrong with a host that is not an IP address
// in standard form, or "" for a DNS name (RFC 1123 §2.1).
func checkHostName(host string) string {
	name := strings.TrimSuffix(host, ".")
	labels := strings.Split(name, ".")
	// WHATWG URL §3.5 "ends in a number": 127.1, 2130706433, 0x7f000001,
	// 0177.0.0.1 are IPv4 addresses to resolvers (inet_aton) and browsers,
	// though not to netip. Only the standard form is accepted, so every
	// address is checked as what it is.
	last := labels[len(labels)-1]
	if last != "" && (strings.Trim(last, "0123456789") == "" ||
		(len(last) >= 2 && (last[:2] == "0x" || last[:2] == "0X") && strings.Trim(last[2:], "0123456789abcdefABCDEF") == "")) {
		return "an IP address must be written in standard form (dotted IPv4, or IPv6 in brackets)"
	}
	if len(name) > 253 {
		return "the host name is longer than 253 bytes"
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return "the host must be a DNS name (letters, digits, hyphens; IDNs in their xn-- form) or an IP address"
		}
	}
	return ""
}

// refusedAddrError is a connection the dialer refused: a failed attempt.
// rule is safe to log (no URL, no address).
type refusedAddrError struct{ rule string }

func (e *refusedAddrError) Error() string { return "outbound connection refused: " + e.rule }

// control runs after DNS, on each address about to be connected to, before
// connect(2): the check on the address actually dialled (SPEC §6), so DNS
// cannot point a name elsewhere later (rebinding).
func (p outboundPolicy) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return &refusedAddrError{rule: "not TCP"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedAddrError{rule: "not an IP address"}
	}
	if rule := p.refusedBy(ap.Addr()); rule != "" {
		return &refusedAddrError{rule: rule}
	}
	return nil
}

// unreachable is an outbound request that got no answer, said as a client
// may read it (SPEC §5: internal details never reach a client): refused by
// the policy, no answer in time, a name that does not resolve, or the host
// not reached — never the resolver's or a socket's address, nor Go's
// words. It wraps the error, for errors.Is and the log.
type unreachable struct{ err error }

func (u *unreachable) Error() string {
	_, dns := errors.AsType[*net.DNSError](u.err)
	switch rule := refusedRule(u.err); {
	case rule != "":
		return "the address is refused: " + rule
	case isTimeout(u.err):
		return "no answer in time"
	case dns:
		return "the host name does not resolve"
	default:
		return "the host cannot be reached"
	}
}

func (u *unreachable) Unwrap() error { return u.err }

// refusedRule is the rule of a connection the policy refused, or "".
func refusedRule(err error) string {
	if e, ok := errors.AsType[*refusedAddrError](err); ok {
		return e.rule
	}
	return ""
}

// newOutboundClient is the HTTP client of outbound requests under p: every
// connection passes p.control, no proxy (the proxy would be the address
// dialled, not the receiver), short timeouts, no redirects.
func newOutboundClient(p outboundPolicy, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: webhookDialTimeout, KeepAlive: 30 * time.Second, Control: p.control}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
			TLSHandshakeTimeout:    webhookHeaderTimeout,
			ResponseHeaderTimeout:  webhookHeaderTimeout,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: maxWebhookHeaders,
			IdleConnTimeout:        90 * time.Second,
			MaxIdleConnsPerHost:    2,
			ForceAttemptHTTP2:      true,
		},
		Timeout: webhookTimeout,
		// A redirect would re-post the signed result, personal data
		// included, to a URL the operator never set: a 3xx is a failed
		// attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
