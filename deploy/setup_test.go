package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// esStub records setup.sh's requests and answers like Elasticsearch's
// security, snapshot and API key endpoints.
type esStub struct {
	mu       sync.Mutex
	requests []string // "METHOD /path body"
	keys     map[string]string
	next     int
}

func (s *esStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/" && r.Header.Get("Authorization") == "" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"reason":"missing authentication credentials for REST request [/]"}}`)
		return
	}
	if r.URL.Path == "/_security/_authenticate" {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "ApiKey ")
		for _, k := range s.keys {
			if k == key {
				fmt.Fprint(w, `{"username":"elastic"}`)
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "elastic" || p == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+" "+string(body))
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/_security/api_key":
		s.next++
		id, enc := fmt.Sprintf("key-%d", s.next), fmt.Sprintf("ZW5jb2RlZC0%d+/a==", s.next)
		s.keys[id] = enc
		fmt.Fprintf(w, `{"id":%q,"name":"wiredesk-indexer","api_key":"secret","encoded":%q}`, id, enc)
	case r.Method == http.MethodGet && r.URL.Path == "/_security/api_key":
		var list []string
		for id := range s.keys {
			list = append(list, fmt.Sprintf(`{"id":%q,"name":"wiredesk-indexer"}`, id))
		}
		fmt.Fprintf(w, `{"api_keys":[%s]}`, strings.Join(list, ","))
	case r.Method == http.MethodDelete && r.URL.Path == "/_security/api_key":
		var req struct{ IDs []string }
		_ = json.Unmarshal(body, &req)
		for _, id := range req.IDs {
			delete(s.keys, id)
		}
		fmt.Fprint(w, `{"invalidated_api_keys":[]}`)
	default:
		fmt.Fprint(w, `{"acknowledged":true}`)
	}
}

func (s *esStub) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

// TestSetupScript runs setup/setup.sh against a stub of Elasticsearch:
// the roles and the API key are limited to the wiredesk indices, the
// indexer's generated config is valid, a second run changes nothing, and
// a rotation replaces the key and invalidates the old one.
func TestSetupScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("setup.sh needs %s (apt-get install %s)", tool, tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("setup.sh chowns files as the setup container's root does; run as root (CI does)")
	}
	env, _ := testEnv(t)
	stub := &esStub{keys: map[string]string{}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	dir := t.TempDir()
	certs, secrets, calls := filepath.Join(dir, "certs"), filepath.Join(dir, "secrets"), filepath.Join(dir, "wiredesk-calls")
	for _, f := range []string{"ca/ca.crt", "elasticsearch/elasticsearch.crt"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(certs, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certs, f), []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "wiredesk")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" >>"+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	template, _ := filepath.Abs("wiredesk.yaml")
	run := func(extra ...string) string {
		t.Helper()
		cmd := exec.Command("bash", "setup/setup.sh")
		cmd.Env = append([]string{
			"PATH=" + os.Getenv("PATH"),
			"ES_URL=" + srv.URL, "CERTS_DIR=" + certs, "SECRETS_DIR=" + secrets,
			"SNAPSHOTS_DIR=" + filepath.Join(dir, "snapshots"), "CONFIG_TEMPLATE=" + template,
			"CERTUTIL=false", "WIREDESK=" + fake, "WAIT_SECONDS=10",
			"ELASTIC_PASSWORD=" + env["ELASTIC_PASSWORD"], "KIBANA_PASSWORD=" + env["KIBANA_PASSWORD"],
			"NEWSROOM_PASSWORD=" + env["NEWSROOM_PASSWORD"],
		}, extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("setup.sh: %v\n%s", err, out)
		}
		return string(out)
	}

	run()
	reqs := strings.Join(stub.take(), "\n")
	for _, want := range []string{
		"POST /_security/user/kibana_system/_password {\"password\":\"" + env["KIBANA_PASSWORD"] + "\"}",
		`PUT /_security/role/wiredesk_indexer {"cluster":["monitor"],"indices":[{"names":["wiredesk-articles*"]`,
		`PUT /_security/role/newsroom_reader {"indices":[{"names":["wiredesk-articles*"],"privileges":["read","view_index_metadata"]}],"applications":[{"application":"kibana-.kibana","privileges":["read"],"resources":["*"]}]}`,
		`PUT /_security/user/newsroom {"password":"` + env["NEWSROOM_PASSWORD"] + `","roles":["newsroom_reader"]`,
		`POST /_security/api_key {"name":"wiredesk-indexer","role_descriptors":{"wiredesk_indexer":{"cluster":["monitor"],"indices":[{"names":["wiredesk-articles*"]`,
		`PUT /_snapshot/wiredesk `,
		`PUT /_slm/policy/wiredesk-nightly `,
	} {
		if !strings.Contains(reqs, want) {
			t.Errorf("setup.sh did not send %s\nsent:\n%s", want, reqs)
		}
	}
	if got, _ := os.ReadFile(calls); strings.TrimSpace(string(got)) != "setup -config "+template {
		t.Errorf("wiredesk called as %q, want setup -config %s", got, template)
	}
	cfg := filepath.Join(secrets, "indexer.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `api_key: "ZW5jb2RlZC01+/a=="`) {
		t.Errorf("indexer.yaml does not hold the new key:\n%s", data)
	}
	fi, _ := os.Stat(cfg)
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("indexer.yaml mode %v, want 0400", fi.Mode().Perm())
	}
	// The generated file is a valid indexer config with compose's environment.
	bin := buildBinaries(t)
	check := exec.Command(filepath.Join(bin, "indexer"), "-config", cfg, "-config.check")
	check.Env = []string{"WIREDESK_ES_URL=https://elasticsearch:9200", "WIREDESK_ES_CA_CERT=/run/wiredesk/ca.crt", "WIREDESK_NATS_USER=indexer", "WIREDESK_NATS_PASSWORD=x"}
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("indexer -config.check on the generated config: %v\n%s", err, out)
	}

	// Second run: nothing new.
	out := run()
	reqs = strings.Join(stub.take(), "\n")
	if strings.Contains(reqs, "POST /_security/api_key") || strings.Contains(out, "wrote ") {
		t.Errorf("a second run made a key or rewrote a file:\n%s\n%s", out, reqs)
	}
	if fi2, _ := os.Stat(cfg); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("a second run rewrote indexer.yaml")
	}

	// Rotation: a new key, the old one invalidated.
	run("ROTATE_INDEXER_KEY=1")
	reqs = strings.Join(stub.take(), "\n")
	if !strings.Contains(reqs, "POST /_security/api_key") || !strings.Contains(reqs, `DELETE /_security/api_key {"ids":["key-1"]}`) {
		t.Errorf("rotation did not replace key-1:\n%s", reqs)
	}
	if data, _ := os.ReadFile(cfg); !strings.Contains(string(data), `api_key: "ZW5jb2RlZC02+/a=="`) {
		t.Errorf("indexer.yaml does not hold the rotated key:\n%s", data)
	}
}
