package server

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReadLine: lines without their "\n" or "\r\n"; a line over the cap is
// consumed to its end and flagged, however long; a line at the cap passes;
// the last line may lack its newline.
func TestReadLine(t *testing.T) {
	const max = 16
	at := strings.Repeat("a", max)
	over := strings.Repeat("b", max+1)
	huge := strings.Repeat("c", 10*max)
	in := "one\r\n" + at + "\n" + over + "\n" + huge + "\n\n" + at + "\r\n" + "last"
	type res struct {
		line string
		long bool
	}
	want := []res{{"one", false}, {at, false}, {"", true}, {"", true}, {"", false}, {at, false}, {"last", false}}
	br := bufio.NewReaderSize(strings.NewReader(in), max+2)
	for i, w := range want {
		line, long, err := readLine(br, max)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if string(line) != w.line || long != w.long {
			t.Fatalf("line %d: %q long=%v, want %q long=%v", i+1, line, long, w.line, w.long)
		}
	}
	if _, _, err := readLine(br, max); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v", err)
	}
	// A huge last line without a newline is still one long line.
	br = bufio.NewReaderSize(strings.NewReader(huge), max+2)
	if _, long, err := readLine(br, max); !long || err != nil {
		t.Fatalf("huge last line: long=%v err=%v", long, err)
	}
	if _, _, err := readLine(br, max); !errors.Is(err, io.EOF) {
		t.Fatalf("after the huge last line: %v", err)
	}
}
