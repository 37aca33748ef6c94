package bus

import "errors"

// Permanent marks an error that no redelivery can fix (a message that is
// not JSON, an unknown schema version, a document the index rejects). The
// consume loop dead-letters the message at once and terminates it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Unavailable marks an error of a dependency, not of the message: the
// search engine is down or rejecting, NATS refused a publish. The consume
// loop stops pulling, keeps the message in progress and retries it with
// backoff until the dependency is back, so the outage never counts toward
// the message's MaxDeliver.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return unavailableError{err}
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

type unavailableError struct{ error }

func (e unavailableError) Unwrap() error { return e.error }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { var p permanentError; return errors.As(err, &p) }

// IsUnavailable reports whether err was marked with Unavailable.
func IsUnavailable(err error) bool { var u unavailableError; return errors.As(err, &u) }
