package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Most routes have one shape: bind the request (a JSON body, path
// parameters), call one service method as the authenticated caller, and
// answer its result as JSON with a fixed status. handle is that shape,
// written once; the adapters below fit a service method's signature to it.
// Routes that differ in more than that (server-sent events, QR images, the
// bulk stream, long-polls, the token form, public documents) keep handlers
// of their own.

// noBody is the input of a route without a request body: handle reads
// none.
type noBody struct{}

// call is a service method fitted to a route: the request (for its path
// and query parameters), the caller and the decoded body in, the answer
// out.
type call[In, Out any] func(c *gin.Context, p *wallet.Principal, in In) (Out, error)

// handle decodes In from the JSON body (unless In is noBody: see decode for
// the media type, the size cap and strictness), calls f, and answers its
// result as JSON with status. An error, from decoding or from f, is
// answered through the one error table (fail).
func handle[In, Out any](s *server, status int, f call[In, Out]) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in In
		if _, none := any(in).(noBody); !none && !s.decode(c, &in) {
			return
		}
		out, err := f(c, principalOf(c), in)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, status, out)
	}
}

// noContent runs a service method on the resource of the path's :id and
// answers 204 with no body.
func noContent(s *server, f func(ctx context.Context, p *wallet.Principal, id string) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := f(c.Request.Context(), principalOf(c), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// body fits a method taking the decoded body.
func body[In, Out any](f func(context.Context, *wallet.Principal, In) (Out, error)) call[In, Out] {
	return func(c *gin.Context, p *wallet.Principal, in In) (Out, error) {
		return f(c.Request.Context(), p, in)
	}
}

// caller fits a method taking only the caller.
func caller[Out any](f func(context.Context, *wallet.Principal) (Out, error)) call[noBody, Out] {
	return func(c *gin.Context, p *wallet.Principal, _ noBody) (Out, error) {
		return f(c.Request.Context(), p)
	}
}

// paged fits a list method taking the caller and the page the query asks
// for (pageQuery).
func paged[Out any](f func(context.Context, *wallet.Principal, api.Page) (Out, error)) call[noBody, Out] {
	return func(c *gin.Context, p *wallet.Principal, _ noBody) (Out, error) {
		pg, err := pageQuery(c)
		if err != nil {
			var zero Out
			return zero, err
		}
		return f(c.Request.Context(), p, pg)
	}
}

// pageQuery reads the parameters every list takes (api/page.go): limit,
// an integer from 1 to api.MaxLimit, and cursor, a next_cursor (empty: the
// first page). A cursor over api.MaxCursor characters is refused here,
// unread; the service checks what the cursor says.
func pageQuery(c *gin.Context) (api.Page, error) {
	var pg api.Page
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if len(v) > 4 || err != nil || n < 1 || n > api.MaxLimit {
			return pg, invalid("limit must be an integer from 1 to %d", api.MaxLimit)
		}
		pg.Limit = n
	}
	if pg.Cursor = c.Query("cursor"); len(pg.Cursor) > api.MaxCursor {
		return pg, invalid("cursor: longer than any cursor (%d characters)", api.MaxCursor)
	}
	return pg, nil
}

// byID fits a method taking the path's :id.
func byID[Out any](f func(context.Context, *wallet.Principal, string) (Out, error)) call[noBody, Out] {
	return func(c *gin.Context, p *wallet.Principal, _ noBody) (Out, error) {
		return f(c.Request.Context(), p, c.Param("id"))
	}
}

// byIDWithBody fits a method taking the path's :id and the decoded body.
func byIDWithBody[In, Out any](f func(context.Context, *wallet.Principal, string, In) (Out, error)) call[In, Out] {
	return func(c *gin.Context, p *wallet.Principal, in In) (Out, error) {
		return f(c.Request.Context(), p, c.Param("id"), in)
	}
}

// invalid is a 400 invalid_request for a bad parameter, answered by
// handle like any error of the service.
func invalid(format string, args ...any) error {
	return &wallet.Error{Code: api.CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}
