package storetest

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// same fails t when got and want differ as records. The comparison is the
// contract's notion of "the same record":
//   - times are equal when time.Equal says so (locations and monotonic
//     readings are not kept by a store);
//   - a non-nil map must come back non-nil, even when empty (a caller may
//     assign into a map it reads); a nil map may come back empty;
//   - a nil and an empty slice are the same (len, range and append treat
//     them alike, and `omitempty` JSON fields cannot tell them apart).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	var out []string
	walk(what, reflect.ValueOf(got), reflect.ValueOf(want), &out)
	if len(out) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(out, "\n\t"))
	}
}

func walk(path string, g, w reflect.Value, out *[]string) {
	if !g.IsValid() || !w.IsValid() {
		if g.IsValid() != w.IsValid() {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
		return
	}
	if g.Type() != w.Type() {
		*out = append(*out, fmt.Sprintf("%s: got type %s, want %s", path, g.Type(), w.Type()))
		return
	}
	if w.Type() == reflect.TypeFor[time.Time]() {
		gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
		if !gt.Equal(wt) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, gt.Format(time.RFC3339Nano), wt.Format(time.RFC3339Nano)))
		}
		return
	}
	switch w.Kind() {
	case reflect.Pointer:
		if g.IsNil() || w.IsNil() {
			if g.IsNil() != w.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: got nil=%t, want nil=%t", path, g.IsNil(), w.IsNil()))
			}
			return
		}
		walk(path, g.Elem(), w.Elem(), out)
	case reflect.Struct:
		for i := range w.NumField() {
			walk(path+"."+w.Type().Field(i).Name, g.Field(i), w.Field(i), out)
		}
	case reflect.Map:
		if g.IsNil() && !w.IsNil() {
			*out = append(*out, fmt.Sprintf("%s: got a nil map, want a non-nil one (callers assign into it)", path))
			return
		}
		for _, k := range w.MapKeys() {
			gv := g.MapIndex(k)
			if !gv.IsValid() {
				*out = append(*out, fmt.Sprintf("%s[%v]: missing", path, k))
				continue
			}
			walk(fmt.Sprintf("%s[%v]", path, k), gv, w.MapIndex(k), out)
		}
		for _, k := range g.MapKeys() {
			if !w.MapIndex(k).IsValid() {
				*out = append(*out, fmt.Sprintf("%s[%v]: unexpected", path, k))
			}
		}
	case reflect.Slice:
		if w.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(g.Bytes(), w.Bytes()) {
				*out = append(*out, fmt.Sprintf("%s: got %x, want %x", path, g.Bytes(), w.Bytes()))
			}
			return
		}
		if g.Len() != w.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %d elements, want %d", path, g.Len(), w.Len()))
			return
		}
		for i := range w.Len() {
			walk(fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i), out)
		}
	default:
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: got %#v, want %#v", path, g.Interface(), w.Interface()))
		}
	}
}
