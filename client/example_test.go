package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

// The companion app's first start: a device key, enrolment with the
// activation code the citizen was handed, and the device saved (0600).
func ExampleHolder_Enroll() {
	ctx := context.Background()
	c := client.New("https://wallet.example")
	dev, err := client.NewDevice("Lan's phone")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Holder(dev).Enroll(ctx, "001090000001", "activation-code"); err != nil {
		log.Fatal(err)
	}
	if err := dev.Save("device.json"); err != nil {
		log.Fatal(err)
	}
}

// A share of two claims, approved with the device key: the QR text is
// what the verifier scans.
func ExampleHolder_ShareAndApprove() {
	ctx := context.Background()
	dev, err := client.LoadDevice("device.json")
	if err != nil {
		log.Fatal(err)
	}
	h := client.New("https://wallet.example").Holder(dev)
	share, err := h.ShareAndApprove(ctx, api.ShareRequest{
		Items:      []api.ShareRequestItem{{CredentialID: "crd_...", Claims: []string{"full_name", "age_over_18"}}},
		TTLSeconds: 60,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(share.QRText, "until", share.ExpiresAt.Format(time.TimeOnly))
}

// A counter's system redeems a scanned code and tells the failures apart.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	v := client.New("https://wallet.example").Verifier(os.Getenv("VERIFIER_API_KEY"))
	res, err := v.Verify(ctx, "EID1:6PUG2V6FVQFLKHORFGIQNPEO5Q")
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Code == api.CodeVerificationFailed:
		fmt.Println("not valid:", e.Reason) // credential_revoked, kb_invalid, ...
	case errors.As(err, &e) && e.Code == api.CodeRateLimited:
		fmt.Println("retry in", e.RetryAfter)
	case err != nil:
		fmt.Println("could not verify:", err)
	default:
		fmt.Println(res.Documents[0].Claims["full_name"])
	}
}

// An authority pushes credentials as a stream and reads results as they
// come back; a bad line fails alone.
func ExampleIssuer_IssueBulk() {
	ctx := context.Background()
	is := client.New("https://wallet.example").Issuer(os.Getenv("ISSUER_API_KEY"))
	reqs := func(yield func(api.IssueRequest) bool) {
		// read the registry's export here, one request at a time
	}
	for res, err := range is.IssueBulk(ctx, reqs) {
		if err != nil {
			log.Fatal(err)
		}
		if res.Error != "" {
			fmt.Println("line", res.Line, res.Error, res.ErrorDescription)
			continue
		}
		fmt.Println("line", res.Line, "issued", res.CredentialID)
	}
}
