package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/index"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
)

// OpenStore opens Elasticsearch when URLs are configured, else the
// embedded index on disk.
func OpenStore(ctx context.Context, c config.Indexer, log *slog.Logger) (index.Store, error) {
	if len(c.Elasticsearch.URLs) > 0 {
		return nil, fmt.Errorf("%w: elasticsearch is not wired yet", ErrConfig)
	}
	s, err := blevestore.Open(c.Bleve)
	if err != nil {
		return nil, fmt.Errorf("opening embedded index %s: %w", c.Bleve, err)
	}
	log.Info("Using the embedded index.", slog.String("path", c.Bleve))
	return s, nil
}
