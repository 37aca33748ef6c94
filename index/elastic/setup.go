package esstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// SetupReport says what Setup found and did. Each action is "created",
// "updated", "unchanged" or "skipped".
type SetupReport struct {
	// Engine is the distribution and version, e.g. "elasticsearch 8.11.0"
	// or "opensearch 2.19.1".
	Engine   string
	Policy   string
	Template string
	// Index is the current month's index; it is created so that the
	// alias exists before the first article arrives.
	Index string
	// Notes are messages for the operator's log, such as why the ILM
	// policy was skipped.
	Notes []string
}

// Setup installs the ILM policy (when the cluster has ILM), the index
// template and the current month's index. It is idempotent: each object is
// compared with what is installed (by a hash in its _meta) and written
// only when it differs, so a second run changes nothing. When the
// template changes, its mappings are also put on the existing monthly
// indices; a change that is not additive fails there with the engine's
// reason.
func (s *Store) Setup(ctx context.Context) (SetupReport, error) {
	var rep SetupReport
	var root struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := s.call(ctx, http.MethodGet, "/", nil, &root); err != nil {
		return rep, fmt.Errorf("reading cluster info: %w", err)
	}
	dist := root.Version.Distribution
	if dist == "" {
		dist = "elasticsearch"
	}
	rep.Engine = dist + " " + root.Version.Number

	policyName := ""
	res, err := s.do(ctx, http.MethodGet, "/_ilm/status", nil)
	switch {
	case err != nil:
		return rep, fmt.Errorf("checking for ILM: %w", err)
	case res.status == http.StatusOK:
		policyName = s.alias
		body, hash := ilmPolicy(s.cfg.RetentionDays)
		rep.Policy, err = s.putIfChanged(ctx, "/_ilm/policy/"+s.alias, body, func(got []byte) string {
			var p map[string]struct {
				Policy struct {
					Meta struct{ Hash string } `json:"_meta"`
				} `json:"policy"`
			}
			_ = json.Unmarshal(got, &p)
			return p[s.alias].Policy.Meta.Hash
		}, hash)
		if err != nil {
			return rep, fmt.Errorf("installing ILM policy %s: %w", s.alias, err)
		}
	default:
		rep.Policy = "skipped"
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s has no index lifecycle management (GET /_ilm/status: %d); no lifecycle policy installed, monthly indices are kept until deleted by hand", rep.Engine, res.status))
	}

	tmpl, hash := template(s.alias, s.cfg.Replicas, policyName)
	rep.Template, err = s.putIfChanged(ctx, "/_index_template/"+s.alias, tmpl, func(got []byte) string {
		var t struct {
			IndexTemplates []struct {
				IndexTemplate struct {
					Meta struct{ Hash string } `json:"_meta"`
				} `json:"index_template"`
			} `json:"index_templates"`
		}
		_ = json.Unmarshal(got, &t)
		if len(t.IndexTemplates) == 0 {
			return ""
		}
		return t.IndexTemplates[0].IndexTemplate.Meta.Hash
	}, hash)
	if err != nil {
		return rep, fmt.Errorf("installing index template %s: %w", s.alias, err)
	}
	if rep.Template == "updated" {
		path := "/" + s.alias + "-*/_mapping?allow_no_indices=true"
		if err := s.call(ctx, http.MethodPut, path, mappings(), nil); err != nil {
			return rep, fmt.Errorf("updating mappings of existing indices: %w", err)
		}
	}

	rep.Index = s.IndexFor(time.Now())
	created, err := s.ensureIndex(ctx, rep.Index)
	if err != nil {
		return rep, err
	}
	if created {
		rep.Notes = append(rep.Notes, "created index "+rep.Index)
	}
	return rep, nil
}

// putIfChanged PUTs body at path unless the object there has the wanted
// hash; it returns "created", "updated" or "unchanged".
func (s *Store) putIfChanged(ctx context.Context, path string, body any, hashOfGot func([]byte) string, want string) (string, error) {
	res, err := s.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", err
	}
	action := "created"
	switch {
	case res.status == http.StatusOK:
		if hashOfGot(res.body) == want {
			return "unchanged", nil
		}
		action = "updated"
	case res.status != http.StatusNotFound:
		return "", &statusError{method: http.MethodGet, path: path, status: res.status, body: res.body}
	}
	if err := s.call(ctx, http.MethodPut, path, body, nil); err != nil {
		return "", err
	}
	return action, nil
}

// ensureIndex creates the index unless it is known to exist; the template
// gives it its settings, mappings and the alias.
func (s *Store) ensureIndex(ctx context.Context, name string) (created bool, err error) {
	s.mu.Lock()
	known := s.indices[name]
	s.mu.Unlock()
	if known {
		return false, nil
	}
	res, err := s.do(ctx, http.MethodPut, "/"+name, nil)
	if err != nil {
		return false, fmt.Errorf("creating index %s: %w", name, err)
	}
	switch {
	case res.status >= 200 && res.status <= 299:
		created = true
	case res.status == http.StatusBadRequest && errorType(res.body) == "resource_already_exists_exception":
	default:
		return false, fmt.Errorf("creating index %s: %w", name, &statusError{method: http.MethodPut, path: "/" + name, status: res.status, body: res.body})
	}
	s.mu.Lock()
	s.indices[name] = true
	s.mu.Unlock()
	return created, nil
}

func errorType(body []byte) string {
	var e struct {
		Error struct{ Type string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Type
}
