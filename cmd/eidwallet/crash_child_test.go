package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/internal/failpoint"
)

// buildFailpointServer builds this command with -tags failpoints into dir:
// the same service, plus the named points at which it can be made to die
// (internal/failpoint). The default build has none of them.
func buildFailpointServer(t *testing.T, dir string) string {
	t.Helper()
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	bin := filepath.Join(dir, "eidwallet-failpoints")
	cmd := exec.Command(goBin, "build", "-tags", "failpoints", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags failpoints: %v\n%s", err, out)
	}
	return bin
}

// crashChild is `eidwallet serve` (the failpoints build) running under
// strace in its own process.
type crashChild struct {
	cmd    *exec.Cmd // strace
	pid    int       // the server, strace's child
	url    string
	trace  string        // strace's -ff prefix
	stderr string        // the server's log
	done   chan struct{} // closed when strace, and so the server, has exited
	fp     string        // the armed failpoint, "" for none
}

var listeningLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// freeAddr is a loopback address with a port free now. Every start of the
// server listens on the same one: the token endpoint URL, which device
// assertions name as aud, must not change across restarts. The port is
// taken below the kernel's ephemeral range, so that no connection of a
// test running beside this one can be given it while the server is down.
func freeAddr(t *testing.T) string {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(low-10000)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// startCrashChild starts the server on addr and dataDir under strace, with
// the failpoint fp armed ("" for none), and waits until it listens (or
// dies at fp while starting up, leaving url ""). Its trace and log go to
// files under traceDir named after n.
func startCrashChild(t *testing.T, bin, addr, dataDir, traceDir string, n int, fp string) *crashChild {
	t.Helper()
	c := &crashChild{
		trace:  filepath.Join(traceDir, fmt.Sprintf("start%02d.trace", n)),
		stderr: filepath.Join(traceDir, fmt.Sprintf("start%02d.log", n)),
		done:   make(chan struct{}),
		fp:     fp,
	}
	logFile, err := os.Create(c.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	c.cmd = exec.Command("strace", append(straceArgs(c.trace), bin, "serve")...)
	c.cmd.Env = append(os.Environ(), "EIDWALLET_ADDR="+addr, "EIDWALLET_DATA_DIR="+dataDir,
		"EIDWALLET_LOG_FORMAT=json", failpoint.EnvVar+"="+fp)
	c.cmd.Stderr = logFile
	found := make(chan string, 1)
	c.cmd.Stdout = &urlWatcher{found: found}
	// strace and the server in a process group of their own, so that a
	// cleanup after a failed start can end both.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start strace: %v", err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.kill)
	select {
	case c.url = <-found:
	case <-c.done:
		if fp != "" && c.cmd.ProcessState.String() == "signal: killed" {
			return c // it died at its failpoint while starting: c.url is ""
		}
		t.Fatalf("server start %d: exited before listening (%v); its log:\n%s", n, c.cmd.ProcessState, tail(c.stderr))
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not start; its log:\n%s", tail(c.stderr))
	}
	if c.pid, err = tracee(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return c
}

// tracee returns the one child process of strace.
func tracee(stracePid int) (int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", stracePid))
	if err != nil {
		return 0, err
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			return strconv.Atoi(fields[0])
		}
	}
	return 0, fmt.Errorf("strace (pid %d) has no child process", stracePid)
}

// kill sends SIGKILL to the server (not to strace, which then writes out
// its trace and exits) and waits for both. Without the server's pid (a
// failed start), it ends the whole process group.
func (c *crashChild) kill() {
	if c.exited() {
		return
	}
	if c.pid > 0 {
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
	} else {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-c.done
}

// exited reports whether the server has died (at its failpoint).
func (c *crashChild) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// urlWatcher is the server's stdout: it sends the URL of the "listening
// on" line.
type urlWatcher struct {
	buf   []byte
	found chan<- string
}

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if m := listeningLine.FindSubmatch(w.buf[:i]); m != nil {
			select {
			case w.found <- string(m[1]):
			default:
			}
		}
		w.buf = w.buf[i+1:]
	}
}

// tail is the end of a log file, for a failure message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
