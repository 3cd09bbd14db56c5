package wallet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Sealer encrypts records at rest (SPEC §6). The associated data binds each
// ciphertext to its record and owner, so a ciphertext moved to another
// record fails to open (THREATS T25).
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// sealVersion prefixes every ciphertext so that a future key or algorithm
// can sit beside this one.
const sealVersion = 1

// Sizes of a sealed record: version ‖ salt ‖ nonce ‖ ciphertext ‖ tag.
const (
	saltSize  = 16
	nonceSize = 12
	headSize  = 1 + saltSize + nonceSize
)

// AESGCM is a Sealer with AES-256-GCM. Each record is sealed under its own
// key, HMAC-SHA256(key, salt) with a random 128-bit salt: GCM with random
// 96-bit nonces under one key is limited to 2^32 messages (NIST SP 800-38D
// §8.3), which a national deployment sealing shares and credentials would
// reach in days; per-record keys lift the limit to the salt's 2^64
// birthday bound.
type AESGCM struct {
	key  []byte
	rand io.Reader
}

// NewAESGCM returns a sealer for a 32-byte key; rand supplies salts and
// nonces.
func NewAESGCM(key []byte, rand io.Reader) (*AESGCM, error) {
	if len(key) != 32 {
		return nil, errors.New("seal: key must be 32 bytes")
	}
	return &AESGCM{key: bytes.Clone(key), rand: rand}, nil
}

// aead returns AES-256-GCM under the record key for salt.
func (s *AESGCM) aead(salt []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("eidwallet record key v1|"))
	m.Write(salt)
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal returns version ‖ salt ‖ nonce ‖ ciphertext ‖ tag.
func (s *AESGCM) Seal(plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, headSize, headSize+len(plaintext)+16)
	out[0] = sealVersion
	if _, err := io.ReadFull(s.rand, out[1:]); err != nil {
		return nil, fmt.Errorf("seal: salt and nonce: %w", err)
	}
	aead, err := s.aead(out[1 : 1+saltSize])
	if err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1+saltSize:headSize], plaintext, ad), nil
}

// Open reverses Seal; any change to the ciphertext or the associated data
// fails.
func (s *AESGCM) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < headSize+16 || sealed[0] != sealVersion {
		return nil, errors.New("seal: not a sealed record")
	}
	aead, err := s.aead(sealed[1 : 1+saltSize])
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, sealed[1+saltSize:headSize], sealed[headSize:], ad)
	if err != nil {
		return nil, errors.New("seal: record does not open (wrong key, record or owner)")
	}
	return pt, nil
}

// Keys are the service's secrets, all derived from one master key (RFC
// 5869 HKDF with distinct labels), so one file is all an operator guards.
type Keys struct {
	Seal  []byte // AES-256-GCM key for records at rest
	Index []byte // HMAC key: citizen numbers are indexed by keyed hash
	Token []byte // HMAC key: share tokens are derived, only their hash stored
}

// DeriveKeys derives the service keys from the master key.
func DeriveKeys(master []byte) (*Keys, error) {
	if len(master) != 32 {
		return nil, errors.New("master key must be 32 bytes")
	}
	var k Keys
	for label, dst := range map[string]*[]byte{"eidwallet seal v1": &k.Seal, "eidwallet index v1": &k.Index, "eidwallet token v1": &k.Token} {
		key, err := hkdf.Key(sha256.New, master, nil, label, 32)
		if err != nil {
			return nil, fmt.Errorf("derive %s: %w", label, err)
		}
		*dst = key
	}
	return &k, nil
}

// ErrNoMasterKey is a master key file that is not there where one may not
// be made (LoadOrCreateMasterKey).
var ErrNoMasterKey = errors.New("the master key file is missing")

// LoadOrCreateMasterKey reads the 32-byte master key at path, or, when the
// file does not exist and mayCreate, makes one from rand (mode 0600);
// without mayCreate a missing file is ErrNoMasterKey. It refuses, and the
// operator must fix (THREATS T27): a key file readable by group or others
// or owned by another user, and a key directory that group or others may
// write (where the key could be swapped for one an attacker knows, or
// planted before the first start) or that another user owns. Root counts
// as the service's own user for ownership, as it can replace anything
// anyway (OpenSSH's StrictModes rule).
func LoadOrCreateMasterKey(path string, rand io.Reader, mayCreate bool) (key []byte, created bool, err error) {
	if err := CheckKeyDir(filepath.Dir(path)); err != nil {
		return nil, false, err
	}
	if !mayCreate {
		key, created, err := readMasterKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("%w: %s", ErrNoMasterKey, path)
		}
		return key, created, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		key = make([]byte, 32)
		if _, err := io.ReadFull(rand, key); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("master key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("write master key %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("sync master key %s: %w", path, err)
		}
		return key, true, f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("create master key %s: %w", path, err)
	}
	return readMasterKey(path)
}

// readMasterKey reads the master key file at path, a private one.
func readMasterKey(path string) ([]byte, bool, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, false, err
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("read master key %s: %w", path, err)
	}
	if len(key) != 32 {
		return nil, false, fmt.Errorf("master key %s: want 32 bytes, found %d", path, len(key))
	}
	return key, false, nil
}

// CheckPrivate refuses a secret file that group or others can read, or
// that another user owns (root counts as this user): the master key's
// rule, and the TLS key's (THREATS T27).
func CheckPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err // names path
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is accessible to group or others (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	return checkOwner(path, st)
}

// CheckKeyDir refuses a directory for a secret file that group or others
// may write (the sticky bit does not help: anyone may still plant a file
// before the first start), or that another user owns. Windows has ACLs,
// not these mode bits: there nothing is checked.
func CheckKeyDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("master key directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("master key directory %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("master key directory %s is writable by group or others (mode %04o); run chmod go-w %s", dir, st.Mode().Perm(), dir)
	}
	return checkOwner(dir, st)
}

// checkOwner refuses a file or directory owned by neither the service's
// user nor root.
func checkOwner(path string, st fs.FileInfo) error {
	uid, ok := fileOwner(st)
	if !ok || uid == 0 || uid == os.Getuid() {
		return nil
	}
	return fmt.Errorf("%s is owned by uid %d, not by this user (uid %d) or root; run chown %d %s", path, uid, os.Getuid(), os.Getuid(), path)
}

func parsePKCS8(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("private key is not P-256")
	}
	return key, nil
}
