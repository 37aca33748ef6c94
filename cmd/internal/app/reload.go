package app

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/enrich"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// reloadable is an enricher whose rules can be swapped while it runs:
// articles in flight finish under the rules they started with.
type reloadable struct {
	cur atomic.Pointer[enrich.Enricher]
}

func (r *reloadable) Enrich(ctx context.Context, raw article.Raw) (article.Enriched, error) {
	return r.cur.Load().Enrich(ctx, raw)
}

// reload loads the rules again; on failure the old rules stay in force.
func (r *reloadable) reload(c config.Enricher, log *slog.Logger) {
	e, err := LoadEnricher(c)
	if err != nil {
		log.Error("Reloading rules failed; keeping the current ones.", slog.String("error", err.Error()))
		return
	}
	old := r.cur.Swap(e)
	log.Info("Rules reloaded.",
		slog.String("taxonomy", e.Versions().Taxonomy), slog.String("gazetteer", e.Versions().Gazetteer),
		slog.String("previous_taxonomy", old.Versions().Taxonomy), slog.String("previous_gazetteer", old.Versions().Gazetteer))
}

// watchSIGHUP reloads the rules on every SIGHUP until ctx is done.
func (r *reloadable) watchSIGHUP(ctx context.Context, c config.Enricher, log *slog.Logger) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	defer signal.Stop(sig)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			r.reload(c, log)
		}
	}
}
