package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Device is a citizen's phone as the service knows it: a P-256 key pair
// (SPEC §2) and, once enrolled, its device and holder ids. On a real phone
// Key lives in secure hardware; any crypto.Signer over a P-256 key will do.
type Device struct {
	ID       string // device id, set by Enroll
	HolderID string // holder id, set by Enroll
	Name     string // shown in the holder's device list
	URL      string // the service it is enrolled with (informational; "" if unknown)
	Key      crypto.Signer

	pool *keyPool // one-time keys for batch copies, by RFC 7638 thumbprint
}

// keyPool is a device's one-time keys (issue 12): each signs the KB-JWT of
// the one batch copy bound to it, then is spent.
type keyPool struct {
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
}

func (d *Device) keys() *keyPool {
	if d.pool == nil {
		d.pool = &keyPool{keys: map[string]*ecdsa.PrivateKey{}}
	}
	return d.pool
}

// PoolSize is how many one-time keys the device holds.
func (d *Device) PoolSize() int {
	p := d.keys()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}

// newPoolKeys makes n one-time keys, not yet in the pool, with their
// public JWKs for POST /v1/me/device/keys.
func newPoolKeys(n int) ([]*ecdsa.PrivateKey, []api.RawJSON, error) {
	keys := make([]*ecdsa.PrivateKey, n)
	jwks := make([]api.RawJSON, n)
	for i := range n {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("pool key: %w", err)
		}
		pub, err := credentials.PublicJWK(&k.PublicKey)
		if err != nil {
			return nil, nil, err
		}
		if jwks[i], err = json.Marshal(pub); err != nil {
			return nil, nil, err
		}
		keys[i] = k
	}
	return keys, jwks, nil
}

// addPoolKeys puts registered keys into the pool.
func (d *Device) addPoolKeys(keys []*ecdsa.PrivateKey) error {
	p := d.keys()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		t, err := credentials.Thumbprint(&k.PublicKey)
		if err != nil {
			return err
		}
		p.keys[t] = k
	}
	return nil
}

// signer is the key with thumbprint t: the device key ("" or its own
// thumbprint) or a pool key.
func (d *Device) signer(t string) (crypto.Signer, error) {
	if d.Key == nil {
		return nil, errors.New("device has no key")
	}
	pub, err := d.PublicKey()
	if err != nil {
		return nil, err
	}
	own, err := credentials.Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	if t == "" || t == own {
		return d.Key, nil
	}
	p := d.keys()
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.keys[t]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("the device holds no key %s (a spent or foreign pool key)", t)
}

// spend drops the pool key with thumbprint t: its copy has been presented.
func (d *Device) spend(t string) {
	p := d.keys()
	p.mu.Lock()
	delete(p.keys, t)
	p.mu.Unlock()
}

// NewDevice makes a device with a fresh P-256 key from crypto/rand.
func NewDevice(name string) (*Device, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	return &Device{Name: name, Key: k}, nil
}

// PublicKey is the device's public key.
func (d *Device) PublicKey() (*ecdsa.PublicKey, error) {
	if d == nil || d.Key == nil {
		return nil, errors.New("device has no key")
	}
	pub, ok := d.Key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("device key is not ECDSA P-256")
	}
	return pub, nil
}

// PublicJWK is the device's public key as a JWK (with its RFC 7638
// thumbprint as kid): the device_key of enrolment.
func (d *Device) PublicJWK() (jsontext.Value, error) {
	pub, err := d.PublicKey()
	if err != nil {
		return nil, err
	}
	k, err := credentials.PublicJWK(pub)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encode device jwk: %w", err)
	}
	return b, nil
}

// AssertionTTL is the lifetime of a device assertion: short, since it is
// used at once (SPEC §3.1 allows up to 5 minutes).
const AssertionTTL = 60 * time.Second

// assertion is the RFC 7523 §3 claims set a device signs.
type assertion struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// SignAssertion signs the RFC 7523 client assertion the token endpoint
// takes (SPEC §3.1 step 3): iss and sub the device id, aud the token
// endpoint URL, exp AssertionTTL after iat, a random 128-bit jti; ES256,
// typ JWT, kid the key's RFC 7638 thumbprint.
func (d *Device) SignAssertion(tokenEndpoint string, iat time.Time) (string, error) {
	if d.ID == "" {
		return "", errors.New("device is not enrolled")
	}
	pub, err := d.PublicKey()
	if err != nil {
		return "", err
	}
	kid, err := credentials.Thumbprint(pub)
	if err != nil {
		return "", err
	}
	jti, err := randomID()
	if err != nil {
		return "", err
	}
	return credentials.SignJWT(d.Key, "JWT", kid, assertion{
		Iss: d.ID, Sub: d.ID, Aud: tokenEndpoint,
		Iat: iat.Unix(), Exp: iat.Add(AssertionTTL).Unix(), Jti: jti,
	})
}

// ErrSDHashMismatch is returned when the sd_hash the service sent is not
// the hash of the presentation it sent: the device refuses to sign.
var ErrSDHashMismatch = errors.New("sd_hash of the presentation does not match the service's")

// SignKB signs the key-binding JWT of one presentation to approve (SPEC
// §3.3 step 2; RFC 9901 §4.3): aud and nonce from the item, sd_hash
// recomputed here over the presentation (and compared with the service's,
// ErrSDHashMismatch if they differ), iat the given time; signed with the
// key item names (key_thumbprint): the device key or a pool key.
func (d *Device) SignKB(item api.ToSign, iat time.Time) (string, error) {
	if !strings.HasSuffix(item.Presentation, "~") {
		return "", fmt.Errorf("credential %s: presentation is not an SD-JWT ending in ~", item.CredentialID)
	}
	if item.Aud == "" || item.Nonce == "" {
		return "", fmt.Errorf("credential %s: aud and nonce are required", item.CredentialID)
	}
	sdHash := credentials.SDHash(item.Presentation)
	if sdHash != item.SDHash {
		return "", fmt.Errorf("credential %s: %w", item.CredentialID, ErrSDHashMismatch)
	}
	key, err := d.signer(item.KeyThumbprint)
	if err != nil {
		return "", fmt.Errorf("credential %s: %w", item.CredentialID, err)
	}
	return credentials.SignKB(key, credentials.KB{Aud: item.Aud, Nonce: item.Nonce, IssuedAt: iat.Unix(), SDHash: sdHash})
}

// deviceFile is the device state on disk (mode 0600). The key is a private
// JWK ("key") or a PKCS#8 PEM ("key_pem", e.g. from openssl genpkey).
type deviceFile struct {
	Version  int         `json:"version"`
	DeviceID string      `json:"device_id,omitempty"`
	HolderID string      `json:"holder_id,omitempty"`
	Name     string      `json:"name,omitempty"`
	URL      string      `json:"url,omitempty"`
	Key      *privateJWK `json:"key,omitempty"`
	KeyPEM   string      `json:"key_pem,omitempty"`
	// Pool holds the one-time keys of batch copies (issue 12).
	Pool []*privateJWK `json:"pool,omitempty"`
}

type privateJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	Kid string `json:"kid,omitempty"`
}

const maxDeviceFileBytes = 1 << 20 // a full pool of one-time keys fits

var b64 = base64.RawURLEncoding

// Save writes the device, private key included, to path with mode 0600:
// to a temporary file in the same directory, then renamed over path, so a
// crash never leaves half a key.
func (d *Device) Save(path string) error {
	k, ok := d.Key.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return errors.New("save device: only an in-memory ECDSA P-256 key can be saved")
	}
	key, err := toPrivateJWK(k)
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	f := deviceFile{Version: 1, DeviceID: d.ID, HolderID: d.HolderID, Name: d.Name, URL: d.URL, Key: key}
	p := d.keys()
	p.mu.Lock()
	for _, pk := range p.keys {
		j, err := toPrivateJWK(pk)
		if err != nil {
			p.mu.Unlock()
			return fmt.Errorf("save device: %w", err)
		}
		f.Pool = append(f.Pool, j)
	}
	p.mu.Unlock()
	slices.SortFunc(f.Pool, func(a, b *privateJWK) int { return strings.Compare(a.Kid, b.Kid) })
	b, err := json.Marshal(f, jsontext.WithIndent("  "))
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	b = append(b, '\n')
	return writePrivate(path, b)
}

// toPrivateJWK is k as a private JWK, its thumbprint as kid.
func toPrivateJWK(k *ecdsa.PrivateKey) (*privateJWK, error) {
	raw, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	pt, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	kid, err := credentials.Thumbprint(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &privateJWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(pt[1:33]), Y: b64.EncodeToString(pt[33:]), D: b64.EncodeToString(raw), Kid: kid}, nil
}

// writePrivate writes b to path atomically with mode 0600.
func writePrivate(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save device %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save device %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save device %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save device %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save device %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save device %s: %w", path, err)
	}
	return nil
}

// LoadDevice reads a device file written by Save (or by hand, with the key
// as a private JWK or a PKCS#8 PEM). A file that group or others may read
// or write is refused: it holds the device's private key.
func LoadDevice(path string) (*Device, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load device: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load device: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("load device: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("load device: %s is accessible to group or others (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := readCapped(f, maxDeviceFileBytes)
	if err != nil {
		return nil, fmt.Errorf("load device %s: %w", path, err)
	}
	d, err := parseDevice(b)
	if err != nil {
		return nil, fmt.Errorf("load device %s: %w", path, err)
	}
	return d, nil
}

func parseDevice(b []byte) (*Device, error) {
	var f deviceFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not a device file: %w", err)
	}
	if f.Version > 1 {
		return nil, fmt.Errorf("device file version %d is newer than this client", f.Version)
	}
	var key *ecdsa.PrivateKey
	var err error
	switch {
	case f.Key != nil && f.KeyPEM != "":
		return nil, errors.New("both key and key_pem are set")
	case f.Key != nil:
		key, err = parsePrivateJWK(f.Key)
	case f.KeyPEM != "":
		key, err = parsePKCS8PEM(f.KeyPEM)
	default:
		return nil, errors.New("no key (want key as a private JWK or key_pem as PKCS#8 PEM)")
	}
	if err != nil {
		return nil, err
	}
	d := &Device{ID: f.DeviceID, HolderID: f.HolderID, Name: f.Name, URL: f.URL, Key: key}
	pool := make([]*ecdsa.PrivateKey, len(f.Pool))
	for i, j := range f.Pool {
		if pool[i], err = parsePrivateJWK(j); err != nil {
			return nil, fmt.Errorf("pool[%d]: %w", i, err)
		}
	}
	return d, d.addPoolKeys(pool)
}

func parsePrivateJWK(j *privateJWK) (*ecdsa.PrivateKey, error) {
	if j.Kty != "EC" || j.Crv != "P-256" {
		return nil, fmt.Errorf("key: want an EC P-256 JWK, found kty %q crv %q", j.Kty, j.Crv)
	}
	d, err := b64.DecodeString(j.D)
	if err != nil || len(d) != 32 {
		return nil, errors.New("key: d is not 32 bytes of base64url")
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	// x and y are redundant; when given they must be d's public point.
	if j.X != "" || j.Y != "" {
		pt, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		if j.X != b64.EncodeToString(pt[1:33]) || j.Y != b64.EncodeToString(pt[33:]) {
			return nil, errors.New("key: x and y do not match d")
		}
	}
	return k, nil
}

func parsePKCS8PEM(s string) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("key_pem: want a PEM block of type PRIVATE KEY (PKCS#8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key_pem: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("key_pem: not an ECDSA P-256 key")
	}
	return ek, nil
}

// randomID is 128 random bits, base64url.
func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}
