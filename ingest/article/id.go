package article

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// trackingParams are query parameters that identify a campaign or a click,
// not a document. Parameters starting with "utm_" are removed as well.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "gbraid": true, "wbraid": true,
	"yclid": true, "msclkid": true, "mc_cid": true, "mc_eid": true, "igshid": true,
	"_ga": true, "_gl": true, "_hsenc": true, "_hsmi": true, "mkt_tok": true,
	"oly_enc_id": true, "oly_anon_id": true, "vero_id": true, "rb_clickid": true,
	"s_cid": true, "ref_src": true, "cmpid": true, "at_medium": true, "at_campaign": true,
}

// CanonicalURL normalises an article link so that the same article reached
// through different links gets the same id: scheme and host lower-cased,
// default port, fragment and tracking parameters removed, the remaining
// query parameters sorted. It returns an error for a link that is not an
// absolute http(s) URL.
func CanonicalURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", &url.Error{Op: "canonicalize", URL: raw, Err: errNotHTTP}
	}
	if u.Host == "" {
		return "", &url.Error{Op: "canonicalize", URL: raw, Err: errNoHost}
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimSuffix(host, ".")
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		host += ":" + port
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	q := u.Query()
	for k := range q {
		if trackingParams[strings.ToLower(k)] || strings.HasPrefix(strings.ToLower(k), "utm_") {
			q.Del(k)
		}
	}
	u.RawQuery = encodeSorted(q)
	u.ForceQuery = false
	return u.String(), nil
}

func encodeSorted(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// ID returns the deterministic article id: a hash of the canonical link
// when the item has a valid one, else of the feed URL and the item GUID.
// It returns "" when neither is available.
func ID(link, feedURL, guid string) string {
	if c, err := CanonicalURL(link); err == nil {
		return hash("url\x00" + c)
	}
	if guid = strings.TrimSpace(guid); guid != "" {
		return hash("guid\x00" + feedURL + "\x00" + guid)
	}
	return ""
}

// ContentRevision hashes the parts of an article that an editor can change.
func ContentRevision(title, summary, body string) string {
	h := sha256.New()
	for _, s := range []string{title, summary, body} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
