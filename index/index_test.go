package index_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

func TestNewDoc(t *testing.T) {
	a := indextest.Articles()[3] // Lachin corridor: a place, an org and a person
	d := index.NewDoc(a)
	if d.Version != a.FetchedAt.UnixMicro() {
		t.Errorf("Version = %d, want FetchedAt in µs", d.Version)
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	check("Topics", d.Topics, []string{"lachin-corridor", "humanitarian-aid"})
	check("EntityIDs", d.EntityIDs, []string{"lachin-corridor", "icrc", "pashinyan"})
	check("QIDs", d.QIDs, []string{"Q990000001"})
	check("People", d.People, []string{"Nikol Pashinyan"})
	check("Places", d.Places, []string{"Lachin corridor"})
	check("Orgs", d.Orgs, []string{"International Committee of the Red Cross"})
	if !slices.Contains(d.Aliases, "Pashinian") || !slices.Contains(d.Aliases, "Лачинский коридор") {
		t.Errorf("Aliases = %q, want every alias", d.Aliases)
	}
	for _, k := range []string{"pashinyan", "q990000001", "nikol pashinyan", "пашинян", "icrc"} {
		if !slices.Contains(d.EntityKeys, k) {
			t.Errorf("EntityKeys lack %q: %q", k, d.EntityKeys)
		}
	}
	if len(d.Locations) != 1 {
		t.Errorf("Locations = %v, want the corridor once", d.Locations)
	}
	var ev index.Evidence
	if err := json.Unmarshal(d.Evidence, &ev); err != nil || len(ev.Entities) != 3 || len(ev.Topics) != 2 {
		t.Errorf("Evidence %s: %v", d.Evidence, err)
	}
}

func TestNewDocWithoutPublicationDate(t *testing.T) {
	a := indextest.Articles()[0]
	a.PublishedAt, a.PublishedFrom = time.Time{}, ""
	d := index.NewDoc(a)
	if !d.Published.Equal(a.FetchedAt) || d.PublishedFrom != "first_seen" {
		t.Errorf("Published = %v from %q, want the fetch time, first_seen", d.Published, d.PublishedFrom)
	}
	// No entities, no topics: evidence is still a valid object.
	d = index.NewDoc(article.Enriched{Raw: article.Raw{ID: "x"}})
	if string(d.Evidence) != `{"topics":[],"entities":[]}` {
		t.Errorf("Evidence = %s", d.Evidence)
	}
}

func TestClauses(t *testing.T) {
	for in, want := range map[string]string{
		``:                           `[]`,
		`Lachin  corridor`:           `[{Lachin false} {corridor false}]`,
		`"Lachin corridor" blockade`: `[{Lachin corridor true} {blockade false}]`,
		`peace"talks"`:               `[{peace false} {talks true}]`,
		`"unclosed phrase`:           `[{unclosed phrase true}]`,
		`"" x`:                       `[{x false}]`,
	} {
		got := fmt.Sprint(index.Clauses(in))
		if in == "" && got == "[]" {
			continue
		}
		if got != want {
			t.Errorf("Clauses(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestClassification(t *testing.T) {
	for _, c := range []struct {
		err       error
		retryable bool
	}{
		{&index.ItemError{Status: 400, Type: "document_parsing_exception"}, false},
		{&index.ItemError{Status: 404, Type: "index_not_found_exception"}, true},
		{&index.ItemError{Status: 413}, false},
		{&index.ItemError{Status: 401, Request: true}, true},
		{&index.ItemError{Status: 408}, true},
		{&index.ItemError{Status: 429}, true},
		{&index.ItemError{Status: 500}, true},
		{&index.ItemError{Status: 503}, true},
		{&index.ItemError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{&index.ItemError{Err: context.DeadlineExceeded}, true},
		{fmt.Errorf("wrapped: %w", &index.ItemError{Status: 400}), false},
		{errors.New("unclassified"), true},
	} {
		if got := index.IsRetryable(c.err); got != c.retryable {
			t.Errorf("IsRetryable(%v) = %v", c.err, got)
		}
		if got := index.IsRejected(c.err); got == c.retryable {
			t.Errorf("IsRejected(%v) = %v", c.err, got)
		}
		if errors.Is(c.err, index.ErrRetryable) != c.retryable && !(c.err.Error() == "unclassified") {
			t.Errorf("errors.Is(%v, ErrRetryable) disagrees", c.err)
		}
	}
	if index.IsRetryable(nil) || index.IsRejected(nil) {
		t.Error("nil classified as an error")
	}
}

func TestLeadSnippet(t *testing.T) {
	if got := index.LeadSnippet("", "  word  word\n\nword ", 100); got != "word word word" {
		t.Errorf("got %q", got)
	}
	got := index.LeadSnippet("Степанакерт Степанакерт Степанакерт", "", 30)
	if got != "Степанакерт …" {
		t.Errorf("got %q", got)
	}
}
