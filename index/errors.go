package index

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinels for errors.Is: every non-nil error a Store returns from Write
// is exactly one of them.
var (
	// ErrRetryable marks an outcome that is not the document's fault: the
	// engine was overloaded (429), failing (5xx), slow or unreachable.
	// Retry later; do not count it against the document.
	ErrRetryable = errors.New("index: temporarily unavailable")
	// ErrRejected marks a document the engine refused for what it is
	// (a 400-class mapping or parsing error). Retrying cannot help:
	// dead-letter it.
	ErrRejected = errors.New("index: document rejected")
)

// ItemError is the outcome of one document in a bulk write that did not
// succeed.
type ItemError struct {
	// ID is the article id.
	ID string
	// Status is the HTTP status of the item, or of the whole request when
	// the request failed as a whole; 0 when there was no response.
	Status int
	// Type and Reason are the engine's error type and reason, e.g.
	// "document_parsing_exception" and "failed to parse field [published]".
	Type   string
	Reason string
	// Err is the underlying cause when there was no usable response
	// (connection refused, timeout, context cancelled).
	Err error
	// Request is true when the whole request failed rather than this
	// item: never the document's fault, so always retryable.
	Request bool
}

func (e *ItemError) Error() string {
	msg := "indexing article " + quote(e.ID)
	if e.Request {
		msg += ": request failed"
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(": status %d", e.Status)
	}
	if e.Type != "" {
		msg += ": " + e.Type
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ItemError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRejected) and errors.Is(err, ErrRetryable)
// classify the error.
func (e *ItemError) Is(target error) bool {
	switch target {
	case ErrRejected:
		return e.rejected()
	case ErrRetryable:
		return !e.rejected()
	}
	return false
}

// rejected reports an item (not whole-request) status in the 400 class
// other than 404 (the index is missing: the cluster's state, not the
// document), 408 (timeout), 409 (conflict, never an error here: a version
// conflict is success) and 429 (overload).
func (e *ItemError) rejected() bool {
	switch s := e.Status; {
	case e.Request, s < 400, s >= 500:
		return false
	case s == http.StatusNotFound, s == http.StatusRequestTimeout,
		s == http.StatusConflict, s == http.StatusTooManyRequests:
		return false
	}
	return true
}

// IsRejected reports whether err is the document's fault (a 400-class
// mapping or parse error): dead-letter it.
func IsRejected(err error) bool {
	var ie *ItemError
	return errors.As(err, &ie) && ie.rejected()
}

// IsRetryable reports whether err is temporary and not the document's
// fault: 429, 5xx, timeouts, connection errors, and any error the engine
// did not classify. For a non-nil err exactly one of IsRetryable and
// IsRejected is true.
func IsRetryable(err error) bool {
	return err != nil && !IsRejected(err)
}
