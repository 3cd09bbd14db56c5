package server_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/docs"
	"github.com/eidwallet/eidwallet/server"
)

// TestOpenAPIMatchesRoutes holds docs/openapi.json and routes.go to the
// same set of (method, path), both ways, with gin's :param written as
// OpenAPI's {param}; every templated path parameter is declared by its
// operation, every operation has error answers in the SPEC §5 shape, and
// every authenticated route names its security scheme.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string                      `json:"operationId"`
			Security    *[]map[string][]string      `json:"security"`
			Parameters  []struct{ Name, In string } `json:"parameters"`
			Responses   map[string]json.RawMessage  `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(docs.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}

	h := newHarness(t)
	param := regexp.MustCompile(`/:([A-Za-z_]+)`)
	routes := map[string]bool{}
	for _, r := range server.RouteInventory(h.handler) {
		routes[r[0]+" "+param.ReplaceAllString(r[1], "/{$1}")] = true
	}
	documented := map[string]bool{}
	template := regexp.MustCompile(`\{([A-Za-z_]+)\}`)
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: operationId %q missing or repeated", key, op.OperationID)
			}
			ids[op.OperationID] = true

			var want, got []string
			for _, m := range template.FindAllStringSubmatch(path, -1) {
				want = append(want, m[1])
			}
			for _, p := range op.Parameters {
				if p.In == "path" {
					got = append(got, p.Name)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%s: path parameters %v, template has %v", key, got, want)
			}
			if _, ok := op.Responses["500"]; !ok {
				t.Errorf("%s: no 500 answer", key)
			}
			public := op.Security != nil && len(*op.Security) == 0
			authenticated := strings.HasPrefix(path, "/v1/") && path != "/v1/enrollments" && path != "/v1/token"
			if authenticated == public {
				t.Errorf("%s: security %v", key, op.Security)
			}
			if authenticated {
				for _, code := range []string{"401", "403"} {
					if _, ok := op.Responses[code]; !ok {
						t.Errorf("%s: no %s answer", key, code)
					}
				}
			}
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in docs/openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("docs/openapi.json documents %s, which is not routed", d)
		}
	}
	if len(routes) < 30 {
		t.Errorf("only %d routes", len(routes))
	}
}
