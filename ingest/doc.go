// Package ingest fetches and parses news feeds: the pure logic behind the
// fetcher service. It knows nothing about NATS or the service's state store;
// callers hand it a feed and the validators of the last fetch and get back
// normalised articles, new validators, scheduling hints, or a classified
// error.
//
// The pieces are:
//
//   - LoadRegistry reads the feed registry (configs/feeds.yaml);
//     ParseOPML turns an OPML subscription list into registry entries.
//   - Client.Fetch does one conditional GET with the SSRF guard, size caps
//     and timeouts, and parses the body; Client.FetchPage gets an article
//     page under the same rules, for full-text extraction.
//   - Parse turns a feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed, in any
//     common charset) into article.Raw values.
//   - NextPoll computes when to poll a feed next; PublishRate estimates the
//     feed's publishing rate from one fetch.
//   - ErrorClass names the class of a fetch error for health events and
//     metrics.
//
// Decisions worth knowing:
//
//   - Dates: an item without a usable date (missing, unparsable, before
//     1990) gets the fetch time and PublishedFrom "first_seen". A date more
//     than FutureTolerance after the fetch time is not trusted: it is
//     replaced by the fetch time and PublishedFrom says "first_seen" too
//     (the article contract has no separate flag).
//   - Identity: the canonical link decides the ID (article.ID). When an
//     RSS item has no link but a URL-shaped GUID, the GUID is used as the
//     URL but the ID comes from the GUID, so that GUIDs differing only in
//     their fragment stay distinct. Items with no link and no GUID get an
//     ID from their content. Items with nothing to show are dropped.
//   - Charsets: see toUTF8. Valid UTF-8 wins over any declaration;
//     undeclared legacy text is guessed among windows-1251, KOI8-R and
//     windows-1252.
//   - The SSRF guard checks the resolved IP at dial time (net.Dialer
//     Control), so redirects and DNS rebinding are covered; environment
//     proxies are ignored for the same reason.
package ingest
