package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/embedded"
	"github.com/wiredesk/wiredesk/cmd/internal/service"
)

// Roles a bench child process can play.
const (
	RoleNATS     = "nats"
	RoleFetcher  = "fetcher"
	RoleEnricher = "enricher"
	RoleIndexer  = "indexer"
)

// ChildOptions configure one child process of the bench: the NATS server
// or one service. The parent passes them as flags of `wiredesk bench
// -role ROLE`.
type ChildOptions struct {
	Role       string
	NATSURL    string
	NATSPort   int
	SyncAlways bool
	ConfigPath string
	Data       string // NATS store directory, or the embedded index directory
	Listen     string // /metrics of the service
	FeedsBase  string
	Feeds      int
	Poll       time.Duration
	CPUProfile string
	MemProfile string
	LogLevel   string
}

// Args renders o as the flags RunChild's caller parses.
func (o ChildOptions) Args() []string {
	a := []string{"bench", "-role", o.Role, "-data", o.Data, "-log.level", o.LogLevel}
	add := func(k, v string) {
		if v != "" {
			a = append(a, k, v)
		}
	}
	add("-child.nats", o.NATSURL)
	add("-nats.port", strconv.Itoa(o.NATSPort))
	add("-config", o.ConfigPath)
	add("-child.listen", o.Listen)
	add("-child.feeds-base", o.FeedsBase)
	add("-feeds", strconv.Itoa(o.Feeds))
	add("-child.poll", o.Poll.String())
	add("-child.cpuprofile", o.CPUProfile)
	add("-child.memprofile", o.MemProfile)
	if o.SyncAlways {
		a = append(a, "-nats.sync")
	}
	return a
}

// RunChild plays one role until ctx is done (the parent sends SIGTERM),
// then shuts down cleanly and writes the profiles asked for.
func RunChild(ctx context.Context, o ChildOptions) error {
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return fmt.Errorf("creating CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.MemProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			f, err := os.Create(o.MemProfile)
			if err != nil {
				return
			}
			defer f.Close()
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
		}()
	}
	if o.Role == RoleNATS {
		ns, err := embedded.StartNATS(embedded.NATSOptions{Port: o.NATSPort, StoreDir: o.Data, SyncAlways: o.SyncAlways})
		if err != nil {
			return err
		}
		<-ctx.Done()
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil
	}
	cfg := config.Default()
	if o.ConfigPath != "" {
		var err error
		if cfg, err = config.Load(o.ConfigPath); err != nil {
			return fmt.Errorf("%w: %w", app.ErrConfig, err)
		}
	}
	cfg.NATS.URL = o.NATSURL
	cfg.Indexer.Bleve = o.Data
	cfg.Fetcher.Listen, cfg.Enricher.Listen, cfg.Indexer.Listen = o.Listen, o.Listen, o.Listen
	cfg.Fetcher.AllowHosts = append(cfg.Fetcher.AllowHosts, "127.0.0.1")
	// All bench feeds live on one loopback host that stands for many
	// publishers: the per-host limit would otherwise serialise them.
	cfg.Fetcher.PerHost = cfg.Fetcher.Workers
	p := &app.Process{
		Config: cfg, Logger: service.NewLogger(o.LogLevel).With("service", o.Role),
		Services: []string{o.Role}, Listen: o.Listen, PollOnStart: true,
	}
	if o.Role == RoleIndexer {
		// The same limit the standalone indexer applies (app.ServiceMain).
		app.ApplyMemoryLimit(cfg)
	}
	if o.Role == RoleFetcher {
		p.Feeds = Feeds(o.FeedsBase, o.Feeds, o.Poll)
	}
	return p.Run(ctx)
}

// Usage is what the kernel accounted to a process over its life.
type Usage struct {
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // VmHWM before shutdown
	UserSeconds  float64 `json:"user_seconds"`
	SysSeconds   float64 `json:"sys_seconds"`
}

// CPUSeconds is user plus system time.
func (u Usage) CPUSeconds() float64 { return u.UserSeconds + u.SysSeconds }

func usageOf(ru *syscall.Rusage) Usage {
	if ru == nil {
		return Usage{}
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return Usage{PeakRSSBytes: int64(ru.Maxrss) * 1024, UserSeconds: tv(ru.Utime), SysSeconds: tv(ru.Stime)}
}

// child is a running child process.
type child struct {
	role   string
	listen string
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{}
	err    error
}

func startChild(bin string, o ChildOptions) (*child, error) {
	c := &child{role: o.Role, listen: o.Listen, stderr: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, o.Args()...)
	c.cmd.Stdout = c.stderr
	c.cmd.Stderr = c.stderr
	c.cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(runtime.NumCPU()))
	// A bench killed mid-run takes its children with it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s process: %w", o.Role, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports an error when the child has stopped on its own.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("the %s process exited early (%v):\n%s", c.role, c.err, c.stderr.String())
	default:
		return nil
	}
}

// stop sends SIGTERM, waits for a clean exit and returns its usage.
//
// Peak RSS is the child's VmHWM read just before SIGTERM: getrusage's
// ru_maxrss of a child also counts the parent's RSS that the child shared
// between fork and exec, which overstates a small child.
func (c *child) stop(grace time.Duration) (Usage, error) {
	hwm := vmHWM(c.cmd.Process.Pid)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return Usage{}, fmt.Errorf("the %s process did not stop within %s of SIGTERM:\n%s", c.role, grace, c.stderr.String())
	}
	var u Usage
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u = usageOf(ru)
	}
	if hwm > 0 {
		u.PeakRSSBytes = hwm
	}
	if c.err != nil {
		return u, fmt.Errorf("the %s process exited with %v:\n%s", c.role, c.err, c.stderr.String())
	}
	return u, nil
}

// kill ends the child on error paths: SIGTERM, so that it still writes
// its profiles, then SIGKILL after a few seconds.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// warnings returns how many warning and error lines the child logged and
// the first few distinct messages.
func (c *child) warnings() (int, []string) {
	n := 0
	var first []string
	seen := map[string]bool{}
	for _, line := range strings.Split(c.stderr.String(), "\n") {
		if !strings.Contains(line, `"level":"WARN"`) && !strings.Contains(line, `"level":"ERROR"`) &&
			!strings.Contains(line, "level=WARN") && !strings.Contains(line, "level=ERROR") {
			continue
		}
		n++
		msg := line
		if _, rest, ok := strings.Cut(line, `"msg":"`); ok {
			msg, _, _ = strings.Cut(rest, `"`)
		}
		if !seen[msg] && len(first) < 3 {
			seen[msg] = true
			first = append(first, truncate(line, 400))
		}
	}
	return n, first
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// scrape reads the child's Prometheus metrics: name{labels} → value,
// summed over labels under the bare name too.
func (c *child) scrape(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	if c.listen == "" {
		return out
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.listen+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		key := line[:i]
		out[key] += v
		if j := strings.IndexByte(key, '{'); j >= 0 {
			out[key[:j]] += v
		}
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// selfUsage is the bench process's own usage so far (the load generator:
// feed server, raw-limit client, observers).
func selfUsage() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	return usageOf(&ru)
}

// vmHWM reads a live process's peak resident set size from
// /proc/PID/status; 0 when unknown.
func vmHWM(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// procCPU reads a live process's CPU seconds from /proc/PID/stat.
func procCPU(pid int) (float64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces, in parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("bench: unreadable /proc stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

var _ io.Writer = (*tailBuffer)(nil)
