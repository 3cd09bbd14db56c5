package client

import (
	"context"
	"errors"
	"net/url"
	"strconv"

	"github.com/eidwallet/eidwallet/api"
)

// Lists come a page at a time (api/page.go): each list has a …Page
// method that reads one page, the next one from the NextCursor of the one
// before, and most have a method that reads them all (Issuers, Credentials,
// …) for the lists that are short by nature.

// maxPages bounds a walk of a whole list: a service that kept answering
// next cursors would otherwise hold the walk for ever.
const maxPages = 10000

// errPageLoop is a walk's error for a cursor answered twice in a row.
var errPageLoop = errors.New("the service answered the same next_cursor again")

// walk reads every page of a list, size items a page: page reads the page
// after cursor ("" for the first) and returns its items and next cursor.
func walk[T any](ctx context.Context, size int, page func(context.Context, api.Page) ([]T, string, error)) ([]T, error) {
	out := []T{}
	pg := api.Page{Limit: size}
	for range maxPages {
		items, next, err := page(ctx, pg)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		if next == pg.Cursor {
			return nil, errPageLoop
		}
		pg.Cursor = next
	}
	return nil, errors.New("more than 10000 pages")
}

// pageQuery adds pg's limit and cursor to q (nil: a new one).
func pageQuery(q url.Values, pg api.Page) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if pg.Limit > 0 {
		q.Set("limit", strconv.Itoa(pg.Limit))
	}
	if pg.Cursor != "" {
		q.Set("cursor", pg.Cursor)
	}
	return q
}

// walkSize is the page size of a walk: the items of most lists are small.
// A holder's credentials carry their claims, a portrait among them, so
// their walk reads fewer a page, to stay well under the answer size cap.
const (
	walkSize       = api.DefaultLimit
	credentialWalk = 20
)
