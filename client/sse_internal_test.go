package client

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestSSEReader(t *testing.T) {
	type ev struct{ name, data string }
	cases := []struct {
		name   string
		stream string
		max    int
		want   []ev
		err    error // after the events
		retry  time.Duration
	}{
		{name: "the server's shape", stream: "retry: 2000\n\nevent: status\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: status\ndata: {\"a\":2}\n\n",
			want: []ev{{"status", `{"a":1}`}, {"status", `{"a":2}`}}, err: io.EOF, retry: 2 * time.Second},
		{name: "no event name is message; data lines join with newlines", stream: "data: a\ndata:b\ndata\n\n",
			want: []ev{{"message", "a\nb\n"}}, err: io.EOF},
		{name: "CRLF line ends", stream: "event: x\r\ndata: 1\r\n\r\n", want: []ev{{"x", "1"}}, err: io.EOF},
		{name: "an event without data is not dispatched", stream: "event: x\n\nevent: y\ndata: 2\n\n", want: []ev{{"y", "2"}}, err: io.EOF},
		{name: "only one space after the colon is dropped", stream: "data:  two\n\n", want: []ev{{"message", " two"}}, err: io.EOF},
		{name: "unknown fields and comments are ignored", stream: "id: 7\n:comment\nfoo: bar\ndata: z\n\n", want: []ev{{"message", "z"}}, err: io.EOF},
		{name: "a cut event is dropped", stream: "event: x\ndata: 1\n\nevent: y\ndata: 2\n", want: []ev{{"x", "1"}}, err: io.ErrUnexpectedEOF},
		{name: "a cut line is dropped", stream: "data: 1", err: io.ErrUnexpectedEOF},
		{name: "an event over the cap", stream: "event: x\ndata: " + strings.Repeat("a", 100) + "\n\n", max: 64, err: ErrTooLarge},
		{name: "many lines over the cap", stream: strings.Repeat("data: aaaa\n", 20) + "\n", max: 64, err: ErrTooLarge},
		{name: "a long line over the buffer, under the cap", stream: "data: " + strings.Repeat("b", 10000) + "\n\n", max: 20000,
			want: []ev{{"message", strings.Repeat("b", 10000)}}, err: io.EOF},
		{name: "an odd retry is ignored", stream: "retry: 1x\n\nretry: +5\n\ndata: 1\n\n", want: []ev{{"message", "1"}}, err: io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			r := newSSEReader(strings.NewReader(tc.stream), max)
			var got []ev
			var err error
			for {
				var e sseEvent
				if e, err = r.next(); err != nil {
					break
				}
				got = append(got, ev{e.name, string(e.data)})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("event %d: %q, want %q", i, got[i], tc.want[i])
				}
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("end: %v, want %v", err, tc.err)
			}
			if r.retry != tc.retry {
				t.Errorf("retry %s, want %s", r.retry, tc.retry)
			}
		})
	}
}

// FuzzSSEReader: any stream ends in an error, without panicking, and no
// event is larger than the cap.
func FuzzSSEReader(f *testing.F) {
	f.Add("event: status\ndata: {}\n\n: keep-alive\n\n", 64)
	f.Add("data\r\ndata: x\r\n\r\nretry: 10\n", 16)
	f.Fuzz(func(t *testing.T, stream string, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		r := newSSEReader(strings.NewReader(stream), max)
		for range len(stream) + 2 {
			e, err := r.next()
			if err != nil {
				return
			}
			if len(e.data) > max {
				t.Fatalf("event of %d bytes over the cap %d", len(e.data), max)
			}
		}
		t.Fatal("more events than the stream has lines")
	})
}
