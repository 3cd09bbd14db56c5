package main

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestMain lets the crash test run `eidwallet serve` in a child process
// made from this test binary, so that it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("EIDWALLET_TEST_SERVE") == "1" {
		os.Exit(run(context.Background(), []string{"serve"}, os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is `eidwallet serve` in its own process.
type child struct {
	cmd *exec.Cmd
	url string
}

func startChild(t *testing.T, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EIDWALLET_TEST_SERVE=1", "EIDWALLET_ADDR=127.0.0.1:0", "EIDWALLET_DATA_DIR="+dataDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case c.url = <-found:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child server did not start")
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return c
}

// TestCrashLosesNothingAcknowledged kills the server with SIGKILL while
// credentials are being issued and shares redeemed, restarts it on the
// same data dir, and checks that everything acknowledged is there and that
// no share can be redeemed twice (THREATS T31).
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startChild(t, dir)
	c := client.New(srv.url)
	tokenBytes, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := c.Admin(strings.TrimSpace(string(tokenBytes)))
	if _, err := admin.CreateIssuer(ctx, wallet.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	ik, err := admin.CreateIssuerAPIKey(ctx, "mps")
	if err != nil {
		t.Fatal(err)
	}
	v, err := admin.CreateVerifier(ctx, wallet.CreateVerifierRequest{ID: "shop", Name: "Shop", Category: "retail",
		Claims: map[string][]string{"national_id": {"age_over_18"}}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := admin.CreateActivationCode(ctx, citizenA)
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := client.NewDevice("phone")
	holder := c.Holder(dev)
	if _, err := holder.Enroll(ctx, citizenA, code.Code); err != nil {
		t.Fatal(err)
	}
	issuer, verifier := c.Issuer(ik.Key), c.Verifier(v.APIKey.Key)
	first, err := issuer.Issue(ctx, wallet.IssueRequest{CitizenID: citizenA, Type: "national_id", Claims: claimsA["national_id"], ValidUntil: time.Now().AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var shares []string
	for range 10 { // the default per-holder quota allows a burst of 10
		sh, err := holder.ShareAndApprove(ctx, wallet.ShareRequest{TTLSeconds: 300,
			Items: []wallet.ShareRequestItem{{CredentialID: first.CredentialID, Claims: []string{"age_over_18"}}}})
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, sh.QRText)
	}

	// Load: issuers and verifiers at once; record what was acknowledged.
	var (
		mu       sync.Mutex
		issued   []string
		redeemed = map[string]int{}
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := issuer.Issue(ctx, wallet.IssueRequest{CitizenID: citizenA, Type: "national_id", Claims: claimsA["national_id"], ValidUntil: time.Now().AddDate(1, 0, 0)})
				if err != nil {
					return
				}
				mu.Lock()
				issued = append(issued, r.CredentialID)
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			for i := w; i < len(shares); i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := verifier.Verify(ctx, shares[i]); err == nil {
					mu.Lock()
					redeemed[shares[i]]++
					mu.Unlock()
				}
				time.Sleep(30 * time.Millisecond) // spread over the kill
			}
		}()
	}
	time.Sleep(45 * time.Millisecond)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(issued) == 0 || len(redeemed) == 0 {
		t.Fatalf("the load acknowledged %d issuances and %d redemptions before the kill; nothing to check", len(issued), len(redeemed))
	}
	t.Logf("acknowledged before SIGKILL: %d issuances, %d redemptions", len(issued), len(redeemed))

	srv = startChild(t, dir)
	c = client.New(srv.url)
	holder = c.Holder(dev)
	verifier = c.Verifier(v.APIKey.Key)
	creds, err := holder.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, cr := range creds {
		have[cr.ID] = true
	}
	for _, id := range issued {
		if !have[id] {
			t.Errorf("credential %s was acknowledged, then lost in the crash", id)
		}
	}
	for _, qr := range shares {
		_, err := verifier.Verify(ctx, qr)
		var ce *client.Error
		switch {
		case err == nil:
			redeemed[qr]++
		case errors.As(err, &ce) && ce.Status == http.StatusConflict:
		default:
			t.Errorf("redeeming after the restart: %v", err)
		}
		if redeemed[qr] > 1 {
			t.Errorf("a share was redeemed %d times across the crash", redeemed[qr])
		}
	}
	act, err := holder.ExportActivity(ctx)
	if err != nil || act.ChainValid == nil || !*act.ChainValid {
		t.Errorf("activity chain after the crash: %v %v", act, err)
	}
}
