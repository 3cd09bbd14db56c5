// Command eidwallet is the wallet service and its tools.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1 // the thing checked is not valid
	exitUsage   = 2 // bad command line or an error before any check
)

const usage = `usage: eidwallet <command> [flags]

commands:
  serve                run the wallet service (see 'eidwallet serve -h')
  admin                operator tasks: issuers, verifiers, API keys, activation codes
  holder               the citizen's side: enrol a device, list documents, share by QR
  verifier             a relying party's side: ask a citizen for claims by QR or presence code
  verify-presentation  verify an SD-JWT (VC) presentation read on stdin, offline, against the
                       signed trust list, issuer metadata or one issuer's JWKS

Run 'eidwallet <command> -h' for a command's flags.
`

// run is main without the process: testable with its own arguments,
// environment and streams. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "verify-presentation":
		return verifyPresentation(args[1:], stdin, stdout, stderr)
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "holder":
		return holderCommand(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "verifier":
		return verifierCommand(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "eidwallet: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
