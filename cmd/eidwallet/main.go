// Command eidwallet is the wallet service and its tools.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if err := unknownVariable(os.Environ()); err != nil { // environ.go
		fmt.Fprintf(os.Stderr, "eidwallet: %v\n", err)
		os.Exit(exitUsage)
	}
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

// tool is one of eidwallet's commands; each parses its own flags.
type tool struct {
	name, help string
	run        func(ctx context.Context, args []string) int
}

// run is main without the process: testable with its own arguments,
// environment and streams. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	tools := []tool{
		{"serve", "run the wallet service (see 'eidwallet serve -h')", func(ctx context.Context, args []string) int {
			return serve(ctx, args, getenv, stdout, stderr)
		}},
		{"migrate", "apply the PostgreSQL store's migrations (--status lists them)", func(ctx context.Context, args []string) int {
			return migrateCommand(ctx, args, getenv, stdout, stderr)
		}},
		{"migrate-store", "copy a stopped deployment's store into an empty one (bolt ↔ postgres)\n" +
			"and check the copy", func(ctx context.Context, args []string) int {
			return migrateStoreCommand(ctx, args, getenv, stdout, stderr)
		}},
		{"admin-token", "reset the operator's admin token, on any replica", func(ctx context.Context, args []string) int {
			return adminTokenCommand(ctx, args, getenv, stdout, stderr)
		}},
		{"public-url", "show or deliberately change the public URL recorded in the store", func(ctx context.Context, args []string) int {
			return publicURLCommand(ctx, args, getenv, stdout, stderr)
		}},
		{"admin", "operator tasks: issuers, verifiers, API keys, activation codes", func(ctx context.Context, args []string) int {
			return adminCommand(ctx, args, getenv, stdin, stdout, stderr)
		}},
		{"holder", "the citizen's side: enrol a device, list documents, share by QR", func(ctx context.Context, args []string) int {
			return holderCommand(ctx, args, getenv, stdin, stdout, stderr)
		}},
		{"verifier", "a relying party's side: ask a citizen for claims by QR or presence code", func(ctx context.Context, args []string) int {
			return verifierCommand(ctx, args, getenv, stdin, stdout, stderr)
		}},
		{"verify-presentation", "verify an SD-JWT (VC) presentation read on stdin, offline, against the\n" +
			"signed trust list, issuer metadata or one issuer's JWKS", func(_ context.Context, args []string) int {
			return verifyPresentation(args, stdin, stdout, stderr)
		}},
		{"verify-offline", "verify an EIDC1: code read on stdin against a saved trust bundle, with no network", func(_ context.Context, args []string) int {
			return verifyOffline(args, stdin, stdout, stderr)
		}},
	}
	var usage strings.Builder
	usage.WriteString("usage: eidwallet <command> [flags]\n\ncommands:\n")
	for _, t := range tools {
		writeCommand(&usage, 23, t.name, t.help)
	}
	usage.WriteString("\nRun 'eidwallet <command> -h' for a command's flags.\n")

	if len(args) == 0 {
		fmt.Fprint(stderr, usage.String())
		return exitUsage
	}
	for _, t := range tools {
		if t.name == args[0] {
			return t.run(ctx, args[1:])
		}
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage.String())
		return exitOK
	}
	fmt.Fprintf(stderr, "eidwallet: unknown command %q\n\n%s", args[0], usage.String())
	return exitUsage
}
