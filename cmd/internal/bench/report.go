package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Targets from issue 9.
const (
	TargetPerSecond = 2000
	TargetP99MS     = 2000
	TargetRSSBytes  = 150 << 20
)

// Machine describes where the bench ran.
type Machine struct {
	CPU       string     `json:"cpu"`
	Cores     int        `json:"cores"`
	Kernel    string     `json:"kernel"`
	Go        string     `json:"go"`
	Load      [3]float64 `json:"load_before"`
	LoadAfter [3]float64 `json:"load_after"`
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Load: loadAvg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

func fmtLoad(l [3]float64) string { return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2]) }

func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }

// ProfileTop is the head of `go tool pprof -top` for one profile.
type ProfileTop struct {
	File  string   `json:"file"`
	Lines []string `json:"lines"`
}

// topProfiles summarises the profiles in dir with `go tool pprof` when the
// go command is at hand; the profiles stay in dir either way.
func topProfiles(bin, dir string, out io.Writer) []ProfileTop {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(out, "profiles are in %s (no go command to summarise them)\n", dir)
		return nil
	}
	var tops []ProfileTop
	for _, role := range []string{RoleFetcher, RoleEnricher, RoleIndexer} {
		for _, kind := range []struct{ file, index string }{{"cpu", ""}, {"allocs", "alloc_space"}} {
			file := filepath.Join(dir, role+"."+kind.file+".pprof")
			if _, err := os.Stat(file); err != nil {
				continue
			}
			args := []string{"tool", "pprof", "-top", "-nodecount=12"}
			if kind.index != "" {
				args = append(args, "-sample_index="+kind.index)
			}
			b, err := exec.Command(goCmd, append(args, bin, file)...).Output()
			if err != nil {
				continue
			}
			var lines []string
			take := false
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "flat%") {
					take = true
				}
				if take && strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
				if strings.HasPrefix(l, "Showing nodes") {
					lines = append(lines, l)
				}
			}
			tops = append(tops, ProfileTop{File: filepath.Base(file), Lines: lines})
		}
	}
	return tops
}

// Print writes the human summary.
func Print(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\n%s", Markdown(r, ""))
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// Markdown renders the results as the body of RESULTS.md; notes, the
// hand-written analysis kept from the previous file, go at the end.
func Markdown(r *Results, notes string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Run of %s\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	p("| machine | |\n|---|---|\n")
	p("| CPU | %s, %d cores (shared with other jobs) |\n", r.Machine.CPU, r.Machine.Cores)
	p("| system | %s, %s |\n", r.Machine.Kernel, r.Machine.Go)
	p("| load average before → after | %s → %s |\n", fmtLoad(r.Machine.Load), fmtLoad(r.Machine.LoadAfter))
	p("| index | %s |\n", r.Index)
	sync := "off (the server's default: flushed, not fsynced, per write)"
	if r.SyncAlways {
		sync = "always (fsync per write)"
	}
	p("| JetStream sync | %s |\n\n", sync)

	p("### Raw JetStream hop\n\n")
	p("| messages | size | in flight | msgs/s | publish-only msgs/s | CPU per message (client + server) |\n|---|---|---|---|---|---|\n")
	p("| %d | %d B | %d | **%.0f** | %.0f | %.1f µs |\n\n", r.Raw.Messages, r.Raw.Bytes, r.Raw.MaxPending, r.Raw.PerSecond, r.Raw.PublishPerS, r.Raw.CPUPerMsgUS)

	runs := []*RunResult{r.Throughput, r.Paced, r.Staged}
	p("### Pipeline\n\n")
	p("| phase | articles | indexed | in index | relevant | DLQ | end to end | fetcher | enricher | indexer | publish→searchable p50 / p95 / p99 | publish→enriched p99 | wall |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range runs {
		if run == nil {
			continue
		}
		name := run.Mode
		if run.TargetRate > 0 {
			name = fmt.Sprintf("paced %.0f/s", run.TargetRate)
		}
		e2e := fmt.Sprintf("**%.0f/s**", run.PerSecond)
		if run.Mode == "staged" {
			e2e = "—"
		}
		p("| %s | %d | %d | %d | %d | %d | %s |", name, run.Articles, run.Indexed, run.IndexCount, run.Relevant, run.DeadLetter, e2e)
		for _, s := range run.Stages {
			p(" %.0f/s |", s.PerSecond)
		}
		p(" %.0f / %.0f / %.0f ms | %.0f ms | %.1f s |\n", run.Latency.P50, run.Latency.P95, run.Latency.P99, run.Enrich.P99, run.Wall)
	}
	p("\nStage rates are each stage's output over the time it produced it. In the throughput and paced phases the stages run together and share the cores, so a stage's rate is bounded by the one before it; the staged phase (`-staged`) runs each alone over the full backlog.\n\n")

	p("### Processes\n\n| phase | process | peak RSS | CPU (user + sys) | CPU per article |\n|---|---|---|---|---|\n")
	for _, run := range runs {
		if run == nil {
			continue
		}
		for _, pr := range run.Procs {
			p("| %s | %s | %s | %.1f s | %.0f µs |\n", run.Mode, pr.Name, mb(pr.Usage.PeakRSSBytes), pr.Usage.CPUSeconds(), pr.CPUPerArticleUS)
		}
		p("| %s | **all four** | | | **%.0f µs** → at most **%.0f articles/s** on %d idle cores |\n", run.Mode, run.CPUPerArticleUS, run.CeilingPerSecond, r.Machine.Cores)
	}
	p("\nCPU per article counts startup and shutdown too, so it reads high for small runs. The ceiling divides the cores by it: what the pipeline would reach if nothing else ran on the machine and nothing but CPU held it back.\n")

	p("\n### Against the targets (issue 9)\n\n| target | figure | |\n|---|---|---|\n")
	if t := r.Throughput; t != nil {
		p("| ≥ %d articles/s end to end, embedded index | %.0f/s (%.1f%% of one raw hop) | %s |\n", TargetPerSecond, t.PerSecond, 100*r.Ratio, met(t.PerSecond >= TargetPerSecond))
	}
	if pc := r.Paced; pc != nil {
		p("| p99 publish→searchable < %d ms at %.0f articles/s | %.0f ms | %s |\n", TargetP99MS, pc.TargetRate, pc.Latency.P99, met(pc.Latency.P99 < TargetP99MS && pc.Latency.Samples > 0))
	}
	var worst int64
	var who string
	for _, run := range runs {
		if run == nil {
			continue
		}
		for _, pr := range run.Procs {
			if pr.Name != "nats-server" && pr.Usage.PeakRSSBytes > worst {
				worst, who = pr.Usage.PeakRSSBytes, run.Mode+" "+pr.Name
			}
		}
	}
	p("| no stage above %s RSS | %s (%s) | %s |\n", mb(TargetRSSBytes), mb(worst), who, met(worst <= TargetRSSBytes))

	if t := r.Throughput; t != nil && len(t.Metrics) > 0 {
		p("\n### Service metrics (throughput phase)\n\n| metric | value |\n|---|---|\n")
		keys := make([]string, 0, len(t.Metrics))
		for k := range t.Metrics {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p("| %s | %.4g |\n", k, t.Metrics[k])
		}
	}
	for _, run := range runs {
		if run == nil || len(run.Warnings) == 0 {
			continue
		}
		p("\n### Warnings logged (%s phase)\n\n", run.Mode)
		for _, role := range []string{RoleFetcher, RoleEnricher, RoleIndexer} {
			if w, ok := run.Warnings[role]; ok {
				p("- %s: %d, first: `%s`\n", role, w.Count, strings.Join(w.First, "` · `"))
			}
		}
	}
	if len(r.Profiles) > 0 {
		p("\n### Profiles (throughput phase, `go tool pprof -top`)\n\n")
		for _, pt := range r.Profiles {
			p("`%s`\n\n```\n%s\n```\n\n", pt.File, strings.Join(pt.Lines, "\n"))
		}
	}
	if notes != "" {
		p("\n%s\n%s\n%s\n", notesBegin, strings.TrimSpace(notes), notesEnd)
	}
	return b.String()
}

const (
	notesBegin = "<!-- notes: kept when the file is regenerated -->"
	notesEnd   = "<!-- /notes -->"
)

const header = `# wiredesk bench results

Regenerate with:

    go build -o bin/ ./cmd/wiredesk && bin/wiredesk bench -write-results cmd/internal/bench/RESULTS.md -profile /tmp/wiredesk-prof

What the figures mean (see the package comment of cmd/internal/bench):

- **raw JetStream hop**: async publish of 4 KB messages (at most the
  fetcher's ` + "`max_in_flight`" + ` unacknowledged) on one connection while a pull consumer
  on another acks each, file storage, against the same NATS server process
  the pipeline uses; n over first publish → last ack processed.
- **end to end**: indexed articles over the time from the first raw
  publish to the last index ack.
- **publish→searchable**: per article, NEWS_RAW timestamp (the server
  stored the fetcher's publish) → the server received the indexer's ack
  (JetStream ack sampling). The indexer acks after its batch is durable, and
  a durable batch of the embedded index is searchable at once.
- NATS and each service run as processes of their own (the wiredesk binary
  re-executed as ` + "`bench -role ROLE`" + `, the same code as cmd/fetcher, cmd/enricher
  and cmd/indexer); peak RSS and CPU come from getrusage of each child.
- The machine is shared: other jobs ran during the run, so compare the load
  average with the core count before trusting a figure to better than ±30 %.

`

// WriteMarkdown writes RESULTS.md at path, keeping the notes section of
// the file it replaces.
func WriteMarkdown(path string, r *Results) error {
	notes := ""
	if old, err := os.ReadFile(path); err == nil {
		if _, rest, ok := bytes.Cut(old, []byte(notesBegin)); ok {
			if n, _, ok := bytes.Cut(rest, []byte(notesEnd)); ok {
				notes = string(n)
			}
		}
	}
	return os.WriteFile(path, []byte(header+Markdown(r, notes)), 0o644)
}

// WriteJSON writes the results as JSON.
func WriteJSON(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
