// Package ingest fetches and parses news feeds: the pure logic behind the
// fetcher service. It knows nothing about NATS or the service's state store;
// callers hand it a feed and the validators of the last fetch and get back
// normalised articles, new validators, scheduling hints, or a classified
// error.
//
// The pieces are:
//
//   - LoadRegistry reads the feed registry (configs/feeds.yaml).
//   - Client.Fetch does one conditional GET with the SSRF guard, size caps
//     and timeouts, and parses the body.
//   - Parse turns a feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed, in any
//     common charset) into article.Raw values.
//   - NextPoll computes when to poll a feed next.
//   - ErrorClass names the class of a fetch error for health events and
//     metrics.
package ingest
