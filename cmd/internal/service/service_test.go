package service_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/service"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestEndpoints(t *testing.T) {
	reg := service.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "wiredesk_test_things_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	var down error
	h := &service.Health{}
	h.Add("indexer/index", func() error { return down })
	srv := httptest.NewServer(service.Handler(reg, h))
	defer srv.Close()

	if code, body := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q while every check passes", code, body)
	}
	down = errors.New("connection refused")
	code, body := get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "indexer/index: connection refused") {
		t.Errorf("/readyz = %d %q while the index is down", code, body)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d: a service with a dependency down is still alive", code)
	}
	if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "wiredesk_test_things_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, missing metrics:\n%.500s", code, body)
	}
}
