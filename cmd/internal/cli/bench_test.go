package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiredesk/wiredesk/cmd/internal/bench"
)

// TestBenchEndToEnd runs `wiredesk bench` at a tiny size: every phase
// must account for every article, from feed to index. It asserts counts,
// never timing.
func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wiredesk binary and runs the bench's processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wiredesk")
	if out, err := exec.Command("go", "build", "-o", bin, "../../wiredesk").CombinedOutput(); err != nil {
		t.Fatalf("building wiredesk: %v\n%s", err, out)
	}
	const n, rate = 200, 100
	jsonPath, mdPath := filepath.Join(dir, "results.json"), filepath.Join(dir, "RESULTS.md")
	// An existing results file keeps its notes when regenerated.
	if err := os.WriteFile(mdPath, []byte("old\n<!-- notes: kept when the file is regenerated -->\nkeep me\n<!-- /notes -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "bench", "-n", "200", "-feeds", "4", "-raw.n", "1000", "-rate", "100", "-duration", "2s", "-staged",
		"-data", filepath.Join(dir, "data"), "-json", jsonPath, "-write-results", mdPath, "-timeout", "3m")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("wiredesk bench: %v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Results
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Raw.AckedCounted != 1000 || r.Raw.PerSecond <= 0 {
		t.Errorf("raw phase acked %d of 1000 messages at %.0f/s", r.Raw.AckedCounted, r.Raw.PerSecond)
	}
	for _, run := range []*bench.RunResult{r.Throughput, r.Paced, r.Staged} {
		if run == nil {
			t.Fatalf("a phase is missing from the results:\n%s", data)
		}
		want := n
		if run.TargetRate > 0 {
			want = rate * 2
		}
		if run.Published != want || run.Enriched != want || run.Indexed != want || run.IndexCount != want || run.DeadLetter != 0 {
			t.Errorf("%s: published %d, enriched %d, indexed %d, in index %d, dead-lettered %d; want %d through every stage and none dead-lettered",
				run.Mode, run.Published, run.Enriched, run.Indexed, run.IndexCount, run.DeadLetter, want)
		}
		if run.Latency.Samples != want {
			t.Errorf("%s: %d latency samples, want one per article (%d)", run.Mode, run.Latency.Samples, want)
		}
		if run.Relevant == 0 || run.Relevant == want {
			t.Errorf("%s: %d of %d articles relevant; the demo corpus mixes relevant and other stories", run.Mode, run.Relevant, want)
		}
		if len(run.Procs) != 4 {
			t.Errorf("%s: %d processes accounted, want fetcher, enricher, indexer and nats-server", run.Mode, len(run.Procs))
		}
		for _, p := range run.Procs {
			if p.Usage.PeakRSSBytes <= 0 || p.Usage.CPUSeconds() <= 0 {
				t.Errorf("%s: process %s has no usage: %+v", run.Mode, p.Name, p.Usage)
			}
		}
	}
	if !strings.Contains(string(stdout), "publish→searchable") {
		t.Errorf("the summary lacks the latency column:\n%s", stdout)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "keep me") || !strings.Contains(string(md), "### Raw JetStream hop") {
		t.Errorf("RESULTS.md lost its notes or its tables:\n%s", md)
	}
}
