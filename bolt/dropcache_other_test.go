//go:build !linux

package bolt_test

import "errors"

func dropCache(string) error { return errors.New("dropping the page cache is done on Linux only") }
