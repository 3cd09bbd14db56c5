package qr

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"sync"

	qrcode "github.com/skip2/go-qrcode"
)

const (
	// MinSize and MaxSize bound the pixel size of PNG and SVG images
	// (SPEC §4). At 64 px a version 2 code, quiet zone included, still gets
	// a whole pixel a module; above 1024 px an image only costs more to make
	// and send.
	MinSize = 64
	// MaxSize is the largest image size in pixels; see MinSize.
	MaxSize = 1024
	// DefaultSize is the image size to use when the caller asks for none.
	DefaultSize = 256

	// QuietZone is the white border around every code, in modules. ISO/IEC
	// 18004 asks for 4, and SPEC §4 repeats it. go-qrcode adds exactly this
	// border to its bitmaps; the tests hold it to that.
	QuietZone = 4
)

// ErrSize is returned (wrapped) for an image size outside MinSize–MaxSize, or
// a text whose code has more modules than the size has pixels.
var ErrSize = errors.New("qr: image size out of range")

// pngSignature starts every PNG file (PNG §5.2).
const pngSignature = "\x89PNG\r\n\x1a\n"

// zlibWriters recycles compressors between PNG calls. It is a cache, not
// state: no result depends on it. It is here because a new zlib writer
// allocates about 1.2 MB and costs more than the whole rest of a render, which
// would put SPEC §7's PNG throughput target out of reach.
var zlibWriters sync.Pool

// PNG renders text as a size×size PNG at recovery level M with a quiet zone
// of QuietZone modules. Modules are whole pixels, so edges stay sharp for
// scanners; the pixels left over are split into extra white margin around
// the code. The image is 1-bit grayscale, the smallest PNG that holds it.
func PNG(text string, size int) ([]byte, error) {
	bm, scale, margin, err := layout(text, size)
	if err != nil {
		return nil, err
	}
	b, err := encodePNG(bm, size, scale, margin)
	if err != nil {
		return nil, fmt.Errorf("qr: write PNG: %w", err)
	}
	return b, nil
}

// encodePNG writes bm as a 1-bit grayscale PNG by hand. image/png would need
// the image expanded to a byte a pixel and then reads it back through an
// interface call a pixel; here each module row is packed once and repeated.
func encodePNG(bm [][]bool, size, scale, margin int) ([]byte, error) {
	var out bytes.Buffer
	// Enough for a version 2 code at any size: its repeated rows deflate
	// to about a byte a pixel row, 489 bytes at 256 px and 1416 at 1024.
	out.Grow(512 + size)
	out.WriteString(pngSignature)

	var ihdr [13]byte // PNG §11.2.2
	binary.BigEndian.PutUint32(ihdr[0:], uint32(size))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(size))
	ihdr[8] = 1 // bit depth; colour type 0 (grayscale), no interlace
	writeChunk(&out, "IHDR", ihdr[:])

	// The rows are compressed straight into out after a placeholder length,
	// which is patched once the compressed size is known.
	start := out.Len()
	out.WriteString("\x00\x00\x00\x00IDAT")
	zw, ok := zlibWriters.Get().(*zlib.Writer)
	if ok {
		zw.Reset(&out)
	} else {
		var err error
		if zw, err = zlib.NewWriterLevel(&out, zlib.BestSpeed); err != nil {
			return nil, fmt.Errorf("new zlib writer: %w", err)
		}
	}
	if err := writeRows(zw, bm, size, scale, margin); err != nil {
		return nil, err // zw may be mid-stream; let it go rather than pool it
	}
	// Drop the reference to out so the pool does not keep the result alive.
	zw.Reset(io.Discard)
	zlibWriters.Put(zw)

	b := out.Bytes()
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-8))
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], crc32.ChecksumIEEE(b[start+4:]))
	out.Write(crc[:])
	writeChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

// writeRows writes the image rows (filter type 0, then the pixels with 0 for
// black) to zw and closes it.
func writeRows(zw *zlib.Writer, bm [][]bool, size, scale, margin int) error {
	stride := 1 + (size+7)/8 // a filter-type byte, then 1 bit a pixel
	white := bytes.Repeat([]byte{0xff}, stride)
	white[0] = 0 // filter type None: filtering buys nothing on 1-bit data
	// One module row becomes scale identical pixel rows, written in one call.
	block := make([]byte, scale*stride)
	row := block[:stride]

	for range margin {
		if _, err := zw.Write(white); err != nil {
			return fmt.Errorf("compress rows: %w", err)
		}
	}
	for _, line := range bm {
		copy(row, white)
		for x, dark := range line {
			if !dark {
				continue
			}
			for px := margin + x*scale; px < margin+(x+1)*scale; px++ {
				row[1+px/8] &^= 0x80 >> (px % 8)
			}
		}
		for i := stride; i < len(block); i += stride {
			copy(block[i:i+stride], row)
		}
		if _, err := zw.Write(block); err != nil {
			return fmt.Errorf("compress rows: %w", err)
		}
	}
	for range size - margin - len(bm)*scale {
		if _, err := zw.Write(white); err != nil {
			return fmt.Errorf("compress rows: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress rows: %w", err)
	}
	return nil
}

// writeChunk appends a PNG chunk: length, type, data, CRC of type and data
// (PNG §5.3).
func writeChunk(out *bytes.Buffer, typ string, data []byte) {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(len(data)))
	copy(b[4:], typ)
	out.Write(b[:])
	out.Write(data)
	binary.BigEndian.PutUint32(b[:4], crc32.Update(crc32.ChecksumIEEE(b[4:]), crc32.IEEETable, data))
	out.Write(b[:4])
}

// SVG renders text as a size×size SVG image at recovery level M with a quiet
// zone of QuietZone modules, laid out as PNG lays it out. The dark modules
// are one path of horizontal runs in module units, scaled by a transform,
// which keeps the document small.
func SVG(text string, size int) ([]byte, error) {
	bm, scale, margin, err := layout(text, size)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 512+16*len(bm)*len(bm)/4)
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" width="`...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, `" viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(size), 10)
	// crispEdges stops renderers from anti-aliasing module edges into grey.
	b = append(b, `" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/>`...)
	b = append(b, `<path fill="#000" transform="translate(`...)
	b = strconv.AppendInt(b, int64(margin), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(margin), 10)
	b = append(b, `) scale(`...)
	b = strconv.AppendInt(b, int64(scale), 10)
	b = append(b, `)" d="`...)
	for y, line := range bm {
		for x := 0; x < len(line); {
			if !line[x] {
				x++
				continue
			}
			end := x
			for end < len(line) && line[end] {
				end++
			}
			// A 1-module-high rectangle from x to end on row y.
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(x), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(end-x), 10)
			b = append(b, "v1h-"...)
			b = strconv.AppendInt(b, int64(end-x), 10)
			b = append(b, 'z')
			x = end
		}
	}
	b = append(b, `"/></svg>`...)
	return b, nil
}

// Terminal renders text at recovery level M, quiet zone included, as lines of
// Unicode half blocks, two module rows a line, each line ending in "\n".
//
// The character ink stands for the light modules and blanks for the dark
// ones, as go-qrcode's own terminal form does: on the usual light-on-dark
// terminal that shows a black code on white, which every scanner reads,
// where inked dark modules would show an inverted code many scanners miss.
// When the module rows are odd in number the last line's lower half is
// left blank.
func Terminal(text string) (string, error) {
	bm, err := bitmap(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	// Each half block is 3 bytes of UTF-8.
	b.Grow((len(bm) + 1) / 2 * (3*len(bm) + 1))
	for y := 0; y < len(bm); y += 2 {
		for x := range bm[y] {
			topLight := !bm[y][x]
			bottomLight := y+1 < len(bm) && !bm[y+1][x]
			switch {
			case topLight && bottomLight:
				b.WriteString("█")
			case topLight:
				b.WriteString("▀")
			case bottomLight:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// layout checks size, encodes text and works out the module scale in pixels
// and the extra margin that centres the code.
func layout(text string, size int) (bm [][]bool, scale, margin int, err error) {
	// Checked before encoding: it is the cheap check, and size comes
	// straight from a query parameter.
	if size < MinSize || size > MaxSize {
		return nil, 0, 0, fmt.Errorf("%w: %d px, want %d to %d", ErrSize, size, MinSize, MaxSize)
	}
	if bm, err = bitmap(text); err != nil {
		return nil, 0, 0, err
	}
	scale = size / len(bm)
	if scale < 1 {
		return nil, 0, 0, fmt.Errorf("%w: %d modules do not fit in %d px", ErrSize, len(bm), size)
	}
	return bm, scale, (size - scale*len(bm)) / 2, nil
}

// bitmap returns the modules of text at recovery level M, quiet zone
// included, as bm[y][x] == true for a dark module.
func bitmap(text string) ([][]bool, error) {
	// SPEC §4: level M keeps an EID1 text at version 2 (25×25) while
	// surviving 15% damage, the usual trade-off for screens.
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		// The text is left out: it may hold a live token.
		return nil, fmt.Errorf("qr: encode %d-byte text: %w", len(text), err)
	}
	return q.Bitmap(), nil
}
