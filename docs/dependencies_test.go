package docs_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/eidwallet/eidwallet/"

// deps lists, for every package of the module (tests excluded), the
// packages it depends on, directly or not, as `go list -deps` sees them.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	all := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		all[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	return all
}

// TestDependencyRules holds the layering docs/architecture.md describes:
// the vocabulary packages depend on no other package of the module, the
// client on the wire format and key binding only, data flows one way, and
// each outside dependency has exactly one importer (CONVENTIONS.md).
func TestDependencyRules(t *testing.T) {
	all := deps(t)
	ours := func(pkg string) []string {
		var out []string
		for _, d := range all[pkg] {
			if strings.HasPrefix(d, module) {
				out = append(out, strings.TrimPrefix(d, module))
			}
		}
		return out
	}
	for pkg, allowed := range map[string][]string{
		"api":         {},
		"credentials": {},
		"qr":          {},
		"client":      {"api", "credentials"},
		"openid4vp":   {"credentials"},
		"offline":     {"credentials"},
		"wallet":      {"api", "credentials", "offline", "openid4vp", "qr"},
	} {
		for _, d := range ours(pkg) {
			if !slices.Contains(allowed, d) {
				t.Errorf("%s depends on %s; it may depend on %v only", pkg, d, allowed)
			}
		}
	}
	for pkg := range all {
		for _, d := range ours(pkg) {
			switch {
			case strings.HasPrefix(d, "cmd/"):
				t.Errorf("%s imports %s: nothing imports cmd", pkg, d)
			case d == "server" && !strings.HasPrefix(pkg, "cmd/"):
				t.Errorf("%s imports server: only cmd does", pkg)
			case (d == "bolt" || d == "postgres") && !strings.HasPrefix(pkg, "cmd/") && pkg != "internal/servicetest":
				t.Errorf("%s imports the store %s: only cmd wires it in", pkg, d)
			}
		}
	}
	// One package per outside dependency (CONVENTIONS.md): the only one
	// that imports it directly.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	owners := map[string]string{
		"github.com/lestrrat-go/jwx/v2": "credentials",
		"github.com/skip2/go-qrcode":    "qr",
		"github.com/gin-gonic/gin":      "server",
		"go.etcd.io/bbolt":              "bolt",
		"github.com/jackc/pgx/v5":       "postgres",
		"github.com/fxamacker/cbor/v2":  "offline",
		"github.com/veraison/go-cose":   "offline",
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		for _, imp := range f[1:] {
			for dep, owner := range owners {
				if (imp == dep || strings.HasPrefix(imp, dep+"/")) && pkg != owner {
					t.Errorf("%s imports %s; only %s may", pkg, imp, owner)
				}
			}
		}
	}
}
