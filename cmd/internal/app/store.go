package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/index"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
)

// OpenStore opens Elasticsearch when URLs are configured, else the
// embedded index on disk.
func OpenStore(ctx context.Context, c config.Indexer, log *slog.Logger) (index.Store, error) {
	if len(c.Elasticsearch.URLs) > 0 {
		return OpenElasticsearch(c.Elasticsearch)
	}
	s, err := blevestore.Open(c.Bleve)
	if err != nil {
		return nil, fmt.Errorf("opening embedded index %s: %w", c.Bleve, err)
	}
	log.Info("Using the embedded index.", slog.String("path", c.Bleve))
	return s, nil
}

// OpenElasticsearch returns a client for the configured cluster. It does
// not contact the cluster.
func OpenElasticsearch(c config.Elasticsearch) (*esstore.Store, error) {
	cfg := esstore.Config{URLs: c.URLs, Username: c.Username, Password: c.Password, APIKey: c.APIKey}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("%w: reading elasticsearch.ca_cert: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: elasticsearch.ca_cert %s holds no PEM certificate", ErrConfig, c.CACert)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		cfg.Transport = tr
	}
	s, err := esstore.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: elasticsearch: %w", ErrConfig, err)
	}
	return s, nil
}
