package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// sseEvent is one server-sent event: its name ("message" when the stream
// gave none) and its data lines joined by "\n".
type sseEvent struct {
	name string
	data []byte
}

// sseReader reads a text/event-stream (HTML Living Standard §9.2.6) as the
// eidwallet server writes it: "event:" and "data:" lines, a blank line
// ending each event, comment lines (":…", the server's keep-alives) and
// "retry:" kept for reconnecting, other fields ("id:") ignored. Lines end in "\n", "\r\n" or
// "\r" followed by "\n"; a lone "\r" is not taken as a line end. One event,
// everything read from its first line to its blank line, is at most max
// bytes, else ErrTooLarge.
type sseReader struct {
	br  *bufio.Reader
	max int
	// retry is the reconnection time the stream asked for ("retry:"
	// with digits only), zero if none.
	retry time.Duration
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 4096), max: max}
}

// next returns the next event with data; io.EOF at the end of the stream.
// A stream cut inside an event drops that event (as the standard says) and
// ends with io.ErrUnexpectedEOF.
func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data bytes.Buffer
	hasData, size := false, 0
	for {
		line, err := r.line(r.max - size)
		if err != nil {
			if errors.Is(err, io.EOF) && (size > 0 || len(line) > 0) {
				return sseEvent{}, io.ErrUnexpectedEOF
			}
			return sseEvent{}, err
		}
		size += len(line) + 1
		if len(line) == 0 { // dispatch
			if hasData {
				if ev.name == "" {
					ev.name = "message"
				}
				ev.data = data.Bytes()
				return ev, nil
			}
			ev, hasData, size = sseEvent{}, false, 0
			continue
		}
		if line[0] == ':' { // comment
			continue
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.name = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 32); err == nil && len(value) > 0 && value[0] != '+' {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// line reads one line without its end, failing with ErrTooLarge past
// limit bytes (the line is then not consumed further: the stream is
// abandoned).
func (r *sseReader) line(limit int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(buf)+len(frag) > limit+2 { // +2: the "\r\n" that is not part of the line
			return nil, fmt.Errorf("server-sent event: %w (%d bytes)", ErrTooLarge, r.max)
		}
		buf = append(buf, frag...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return buf, err
		}
		buf = bytes.TrimSuffix(buf[:len(buf)-1], []byte("\r"))
		if len(buf) > limit {
			return nil, fmt.Errorf("server-sent event: %w (%d bytes)", ErrTooLarge, r.max)
		}
		return buf, nil
	}
}
