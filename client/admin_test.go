package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

// TestAdminVerifierOriginsRetireAndStats: the operator's calls for a
// verifier's CORS origins, its retirement and the usage statistics, on
// the real service.
func TestAdminVerifierOriginsRetireAndStats(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	admin := client.New(st.url).Admin(st.adminToken)
	v, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "bank", Name: "Bank", Category: "bank",
		Claims: map[string][]string{"national_id": {"full_name"}}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := admin.SetVerifierOrigins(ctx, v.ID, []string{"https://bank.example"})
	if err != nil || len(set.Origins) != 1 || set.Origins[0] != "https://bank.example" {
		t.Fatalf("SetVerifierOrigins: %+v, %v", set, err)
	}
	_, err = admin.SetVerifierOrigins(ctx, v.ID, []string{"http://bank.example"})
	wantCode(t, err, 400, api.CodeInvalidRequest)
	retired, err := admin.RetireVerifier(ctx, v.ID)
	if err != nil || retired.Retired == nil {
		t.Fatalf("RetireVerifier: %+v, %v", retired, err)
	}
	_, err = client.New(st.url).Verifier(v.APIKey.Key).Verify(ctx, "EID1:AAAA")
	wantCode(t, err, 401, api.CodeUnauthenticated)

	day := time.Now().UTC().Truncate(24 * time.Hour)
	stats, err := admin.Stats(ctx, api.StatsQuery{From: day, To: day.AddDate(0, 0, 1), By: "day"})
	if err != nil || stats.By != "day" || !stats.From.Equal(day) {
		t.Fatalf("Stats: %+v, %v", stats, err)
	}
	_, err = admin.Stats(ctx, api.StatsQuery{From: day.Add(time.Minute), By: "day"})
	wantCode(t, err, 400, api.CodeInvalidRequest)
}
