package server_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/docs"
	"github.com/eidwallet/eidwallet/server"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// TestOpenAPIMatchesRoutes holds docs/openapi.json and routes.go to the
// same set of (method, path), both ways, with gin's :param written as
// OpenAPI's {param}; every templated path parameter is declared by its
// operation, every operation has error answers in the SPEC §5 shape
// (405 method_not_allowed with Allow among them), and every authenticated
// route names its security scheme. HEAD is routed for exactly the GET
// routes (RFC 9110 §9.1) and documented once, in the description's info,
// not per path. The error codes and the activity events the description
// lists are those of the service.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Description string `json:"description"`
		} `json:"info"`
		Paths map[string]map[string]struct {
			OperationID string                 `json:"operationId"`
			Security    *[]map[string][]string `json:"security"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]jsontext.Value `json:"responses"`
		} `json:"paths"`
		Components struct {
			Responses map[string]struct {
				Headers map[string]jsontext.Value `json:"headers"`
			} `json:"responses"`
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Enum []string `json:"enum"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
				ActivityEntry struct {
					Properties struct {
						Event struct {
							Enum []string `json:"enum"`
						} `json:"event"`
					} `json:"properties"`
				} `json:"ActivityEntry"`
			} `json:"schemas"`
		} `json:"components"`
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
	heads := map[string]bool{}
	for _, r := range server.RouteInventory(h.handler) {
		key := param.ReplaceAllString(r[1], "/{$1}")
		if r[0] == "HEAD" {
			heads["GET "+key] = true
			continue
		}
		routes[r[0]+" "+key] = true
	}
	for r := range routes {
		if strings.HasPrefix(r, "GET ") != heads[r] {
			t.Errorf("%s: HEAD routed %v", r, heads[r])
		}
	}
	for r := range heads {
		if !routes[r] {
			t.Errorf("HEAD is routed for %s, which has no GET", strings.TrimPrefix(r, "GET "))
		}
	}
	if !strings.Contains(doc.Info.Description, "HEAD") {
		t.Error("info.description does not say that every GET route answers HEAD")
	}
	if _, ok := doc.Components.Responses["MethodNotAllowed"].Headers["Allow"]; !ok {
		t.Error("components.responses.MethodNotAllowed has no Allow header")
	}
	methodNotAllowed := `{"$ref":"#/components/responses/MethodNotAllowed"}`
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
			if got := strings.Join(strings.Fields(string(op.Responses["405"])), ""); got != methodNotAllowed {
				t.Errorf("%s: 405 answer %q, want %s", key, got, methodNotAllowed)
			}
			public := op.Security != nil && len(*op.Security) == 0
			authenticated := strings.HasPrefix(path, "/v1/") && path != "/v1/enrollments" && path != "/v1/token" && path != "/v1/trust-bundle" &&
				!strings.HasPrefix(path, "/v1/types")
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

	// Every code the description lists is one the error table maps, and
	// the table's 405 is among them (SPEC §5).
	codes := doc.Components.Schemas.Error.Properties.Error.Enum
	for _, code := range codes {
		if server.HTTPStatus(api.Code(code)) == 500 && api.Code(code) != api.CodeInternal {
			t.Errorf("error code %q is not in the error table", code)
		}
	}
	if !slices.Contains(codes, string(api.CodeMethodNotAllowed)) {
		t.Errorf("error codes %v lack %s", codes, api.CodeMethodNotAllowed)
	}

	// The activity events are the service's list (SPEC §3.6).
	events, want := slices.Sorted(slices.Values(doc.Components.Schemas.ActivityEntry.Properties.Event.Enum)), slices.Sorted(slices.Values(api.Events()))
	if !slices.Equal(events, want) {
		t.Errorf("ActivityEntry.event enum %v, want api.Events() %v", events, want)
	}
}
