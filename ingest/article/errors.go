package article

import "errors"

var (
	errNotHTTP = errors.New("article: not an http(s) URL")
	errNoHost  = errors.New("article: URL has no host")
)
