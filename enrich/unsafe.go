package enrich

import "unsafe"

// unsafeString views b as a string without copying. The result is only
// used as a transient map key while b is not modified.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
