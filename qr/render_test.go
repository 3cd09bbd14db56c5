package qr_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqrcode "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/eidwallet/eidwallet/qr"
)

// version2Modules is the side of a version 2 code, without quiet zone.
const version2Modules = 25

// goQRBitmap is what go-qrcode makes of text at level M: the modules every
// rendering must show.
func goQRBitmap(t *testing.T, text string) [][]bool {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	return q.Bitmap()
}

// layout is where a size-pixel image puts n modules: whole pixels a module,
// the rest as margin split around the code.
func layout(n, size int) (scale, margin int) {
	scale = size / n
	return scale, (size - n*scale) / 2
}

func TestBitmapQuietZone(t *testing.T) {
	// go-qrcode draws the quiet zone into its bitmaps; the renderers rely
	// on it being exactly QuietZone modules.
	bm := goQRBitmap(t, qr.Text(qr.Share, tok))
	n := len(bm)
	if n != version2Modules+2*qr.QuietZone {
		t.Fatalf("bitmap is %d modules, want %d", n, version2Modules+2*qr.QuietZone)
	}
	for y, row := range bm {
		for x, dark := range row {
			inZone := x < qr.QuietZone || y < qr.QuietZone || x >= n-qr.QuietZone || y >= n-qr.QuietZone
			if inZone && dark {
				t.Fatalf("dark module (%d,%d) in the quiet zone", x, y)
			}
		}
	}
	// The finder pattern's corner starts right after the zone.
	if !bm[qr.QuietZone][qr.QuietZone] {
		t.Errorf("module (%d,%d) is light, want the finder pattern's corner", qr.QuietZone, qr.QuietZone)
	}
}

func TestPNG(t *testing.T) {
	sizes := []int{qr.MinSize, 100, qr.DefaultSize, 333, qr.MaxSize}
	for _, tc := range allKinds {
		text := qr.Text(tc.kind, tok)
		bm := goQRBitmap(t, text)
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%d", tc.name, size), func(t *testing.T) {
				b, err := qr.PNG(text, size)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if got := img.Bounds(); got != image.Rect(0, 0, size, size) {
					t.Fatalf("bounds %v, want %dx%d", got, size, size)
				}
				checkPixels(t, img, bm)
				if got := decodeQR(t, img); got != text {
					t.Errorf("decoded %q, want %q", got, text)
				}
			})
		}
	}
}

// TestPNGConcurrent guards the shared compressor cache: renders running at
// once give the same bytes as one at a time. Run it with -race.
func TestPNGConcurrent(t *testing.T) {
	sizes := []int{qr.MinSize, qr.DefaultSize, qr.MaxSize}
	want := map[string][]byte{}
	for _, tc := range allKinds {
		for _, size := range sizes {
			b, err := qr.PNG(qr.Text(tc.kind, tok), size)
			if err != nil {
				t.Fatal(err)
			}
			want[fmt.Sprint(tc.kind, size)] = b
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				tc, size := allKinds[(g+i)%len(allKinds)], sizes[i%len(sizes)]
				b, err := qr.PNG(qr.Text(tc.kind, tok), size)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(b, want[fmt.Sprint(tc.kind, size)]) {
					t.Errorf("%s at %d px: concurrent render differs", tc.name, size)
					return
				}
			}
		})
	}
	wg.Wait()
}

// checkPixels compares every pixel of img with the module it belongs to.
func checkPixels(t *testing.T, img image.Image, bm [][]bool) {
	t.Helper()
	size := img.Bounds().Dx()
	scale, margin := layout(len(bm), size)
	for y := range size {
		for x := range size {
			mx, my := (x-margin)/scale, (y-margin)/scale
			wantDark := x >= margin && y >= margin && mx < len(bm) && my < len(bm) && bm[my][mx]
			if g := color.GrayModel.Convert(img.At(x, y)).(color.Gray); (g.Y < 128) != wantDark || (g.Y != 0 && g.Y != 255) {
				t.Fatalf("pixel (%d,%d) is gray %d, want dark=%v", x, y, g.Y, wantDark)
			}
		}
	}
}

// decodeQR reads img with ZXing's QR reader, the one many scanners run.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR decode: %v", err)
	}
	return res.GetText()
}

func TestSizeBounds(t *testing.T) {
	text := qr.Text(qr.Share, tok)
	renderers := []struct {
		name   string
		render func(string, int) ([]byte, error)
	}{{"PNG", qr.PNG}, {"SVG", qr.SVG}}
	for _, r := range renderers {
		for _, size := range []int{qr.MinSize - 1, qr.MaxSize + 1, 0, -256, 1 << 20} {
			if _, err := r.render(text, size); !errors.Is(err, qr.ErrSize) {
				t.Errorf("%s(%d) error = %v, want ErrSize", r.name, size, err)
			}
		}
		for _, size := range []int{qr.MinSize, qr.MaxSize} {
			if _, err := r.render(text, size); err != nil {
				t.Errorf("%s(%d) error = %v", r.name, size, err)
			}
		}
		// A text whose code has more modules than the image has pixels.
		long := strings.Repeat("A", 1000)
		if _, err := r.render(long, qr.MinSize); !errors.Is(err, qr.ErrSize) {
			t.Errorf("%s(1000 chars, %d) error = %v, want ErrSize", r.name, qr.MinSize, err)
		}
		if _, err := r.render(long, qr.MaxSize); err != nil {
			t.Errorf("%s(1000 chars, %d) error = %v", r.name, qr.MaxSize, err)
		}
	}
}

func TestTooLongText(t *testing.T) {
	// More than any QR code holds at level M: an error from every renderer,
	// and one that does not repeat the text.
	text := strings.Repeat("EID1:"+tok, 200)
	_, errPNG := qr.PNG(text, qr.DefaultSize)
	_, errSVG := qr.SVG(text, qr.DefaultSize)
	_, errTerm := qr.Terminal(text)
	for _, err := range []error{errPNG, errSVG, errTerm} {
		if err == nil || errors.Is(err, qr.ErrSize) {
			t.Errorf("error = %v, want an encoding error", err)
		} else if strings.Contains(err.Error(), tok[:8]) {
			t.Errorf("error %q repeats the text", err)
		}
	}
}

// svgDoc is the part of the SVG the tests look at.
type svgDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width   string   `xml:"width,attr"`
	Height  string   `xml:"height,attr"`
	ViewBox string   `xml:"viewBox,attr"`
	Rect    struct {
		Fill string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		D         string `xml:"d,attr"`
		Fill      string `xml:"fill,attr"`
		Transform string `xml:"transform,attr"`
	} `xml:"path"`
}

var (
	svgPath = regexp.MustCompile(`^(?:M\d+ \d+h\d+v1h-\d+z)*$`)
	svgRun  = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
)

func TestSVG(t *testing.T) {
	for _, tc := range allKinds {
		text := qr.Text(tc.kind, tok)
		bm := goQRBitmap(t, text)
		for _, size := range []int{qr.MinSize, qr.DefaultSize, 333, qr.MaxSize} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, size), func(t *testing.T) {
				b, err := qr.SVG(text, size)
				if err != nil {
					t.Fatal(err)
				}
				checkWellFormed(t, b)
				var doc svgDoc
				if err := xml.Unmarshal(b, &doc); err != nil {
					t.Fatal(err)
				}
				s := strconv.Itoa(size)
				if doc.Width != s || doc.Height != s || doc.ViewBox != "0 0 "+s+" "+s {
					t.Errorf("width %q height %q viewBox %q, want %s, %s, 0 0 %s %s", doc.Width, doc.Height, doc.ViewBox, s, s, s, s)
				}
				if doc.Rect.Fill != "#fff" || len(doc.Paths) != 1 || doc.Paths[0].Fill != "#000" {
					t.Fatalf("want a white background and one black path, got %+v", doc)
				}
				scale, margin := layout(len(bm), size)
				if want := fmt.Sprintf("translate(%d %d) scale(%d)", margin, margin, scale); doc.Paths[0].Transform != want {
					t.Errorf("transform %q, want %q", doc.Paths[0].Transform, want)
				}

				got, dark := svgModules(t, doc.Paths[0].D, len(bm))
				if want := countDark(bm); dark != want {
					t.Errorf("SVG draws %d dark modules, bitmap has %d", dark, want)
				}
				if !slices.EqualFunc(got, bm, slices.Equal) {
					t.Error("SVG modules differ from go-qrcode's bitmap")
				}
				// One short path, not one element a module.
				if len(b) > 4096 {
					t.Errorf("SVG is %d bytes, want a compact one", len(b))
				}
			})
		}
	}
}

// checkWellFormed reads b as XML to the end, which Unmarshal does not do.
func checkWellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

// svgModules paints the path's runs into an n×n bitmap and counts them.
func svgModules(t *testing.T, d string, n int) ([][]bool, int) {
	t.Helper()
	if !svgPath.MatchString(d) {
		t.Fatalf("path %q is not a list of 1-module runs", d)
	}
	bm := make([][]bool, n)
	for y := range bm {
		bm[y] = make([]bool, n)
	}
	count := 0
	for _, m := range svgRun.FindAllStringSubmatch(d, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if m[3] != m[4] || y >= n || x+w > n {
			t.Fatalf("run %q is not a closed run inside the code", m[0])
		}
		for i := x; i < x+w; i++ {
			if bm[y][i] {
				t.Fatalf("module (%d,%d) drawn twice", i, y)
			}
			bm[y][i] = true
			count++
		}
	}
	return bm, count
}

func countDark(bm [][]bool) int {
	n := 0
	for _, row := range bm {
		for _, dark := range row {
			if dark {
				n++
			}
		}
	}
	return n
}

func TestTerminal(t *testing.T) {
	for _, tc := range allKinds {
		t.Run(tc.name, func(t *testing.T) {
			text := qr.Text(tc.kind, tok)
			bm := goQRBitmap(t, text)
			out, err := qr.Terminal(text)
			if err != nil {
				t.Fatal(err)
			}
			lines, ok := strings.CutSuffix(out, "\n")
			if !ok {
				t.Fatal("output does not end in a newline")
			}
			rows := strings.Split(lines, "\n")
			n := version2Modules + 2*qr.QuietZone
			if want := (n + 1) / 2; len(rows) != want {
				t.Fatalf("%d lines, want %d", len(rows), want)
			}

			// Read the art back: ink is a light module, blank a dark one.
			got := make([][]bool, n)
			for i, row := range rows {
				runes := []rune(row)
				if len(runes) != n {
					t.Fatalf("line %d is %d wide, want %d", i, len(runes), n)
				}
				top, bottom := make([]bool, n), make([]bool, n)
				for x, r := range runes {
					var topLight, bottomLight bool
					switch r {
					case '█':
						topLight, bottomLight = true, true
					case '▀':
						topLight = true
					case '▄':
						bottomLight = true
					case ' ':
					default:
						t.Fatalf("line %d has %q", i, r)
					}
					top[x], bottom[x] = !topLight, !bottomLight
				}
				got[2*i] = top
				if 2*i+1 < n {
					got[2*i+1] = bottom
				} else if slices.Contains(bottom, false) {
					t.Errorf("last line inks a row below the code")
				}
			}
			if !slices.EqualFunc(got, bm, slices.Equal) {
				t.Errorf("terminal art differs from go-qrcode's bitmap:\n%s", out)
			}
		})
	}
}
