package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/goccy/go-yaml"
)

// wiredeskServices are the services built from deploy/Dockerfile's runtime
// stage, by the binary each runs.
var wiredeskServices = []string{"fetcher", "enricher", "indexer"}

func loadCompose(t *testing.T, env map[string]string, files ...string) *types.Project {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var cfs []types.ConfigFile
	for _, f := range files {
		cfs = append(cfs, types.ConfigFile{Filename: filepath.Join(wd, f)})
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: wd, ConfigFiles: cfs, Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("wiredesk", true) })
	if err != nil {
		t.Fatalf("loading %v: %v", files, err)
	}
	return p
}

func TestComposeStructure(t *testing.T) {
	env, _ := testEnv(t)
	p := loadCompose(t, env, "compose.yaml")
	grace := shutdownGrace(t)

	for _, want := range []string{"nats", "setup", "elasticsearch", "kibana", "kibana-setup", "fetcher", "enricher", "indexer"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	for name, s := range p.Services {
		oneShot := s.Restart == "no"
		t.Run(name, func(t *testing.T) {
			if !oneShot {
				if s.Restart != types.RestartPolicyUnlessStopped {
					t.Errorf("restart = %q, want unless-stopped", s.Restart)
				}
				if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
					t.Errorf("a long-running service needs a healthcheck")
				}
			}
			for dep, d := range s.DependsOn {
				target, ok := p.Services[dep]
				if !ok {
					t.Errorf("depends on unknown service %s", dep)
					continue
				}
				switch d.Condition {
				case types.ServiceConditionHealthy:
					if target.HealthCheck == nil {
						t.Errorf("waits for %s to be healthy, which has no healthcheck", dep)
					}
				case types.ServiceConditionCompletedSuccessfully:
					if target.Restart != "no" {
						t.Errorf("waits for %s to complete, which is restarted (%q)", dep, target.Restart)
					}
				default:
					t.Errorf("depends on %s with condition %q, want service_healthy or service_completed_successfully", dep, d.Condition)
				}
			}
			for _, port := range s.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("port %d published on %q, want 127.0.0.1", port.Target, port.HostIP)
				}
			}
			if s.Build == nil && !strings.HasPrefix(s.Image, "wiredesk") {
				checkImage(t, s.Image)
			}
		})
	}

	// NATS: monitoring not published, JetStream on a named volume, config mounted.
	nats := p.Services["nats"]
	for _, port := range nats.Ports {
		if port.Target == 8222 {
			t.Errorf("nats publishes its monitoring port")
		}
	}
	if !hasVolume(nats, "volume", "/data") || !hasVolume(nats, "bind", "/etc/nats") {
		t.Errorf("nats needs a named volume at /data and the config bind-mounted at /etc/nats: %+v", nats.Volumes)
	}
	if hc := strings.Join(nats.HealthCheck.Test, " "); !strings.Contains(hc, "/healthz?js-enabled-only=true") {
		t.Errorf("nats healthcheck %q does not probe /healthz?js-enabled-only=true", hc)
	}

	es := p.Services["elasticsearch"]
	if es.MemLimit == 0 || !strings.Contains(val(es.Environment["ES_JAVA_OPTS"]), "-Xmx") {
		t.Errorf("elasticsearch needs a memory limit and a heap size")
	}
	for _, k := range []string{"xpack.security.enabled", "xpack.security.http.ssl.enabled", "xpack.security.transport.ssl.enabled"} {
		if val(es.Environment[k]) != "true" {
			t.Errorf("elasticsearch %s = %q, want true", k, val(es.Environment[k]))
		}
	}
	if h := val(p.Services["kibana"].Environment["ELASTICSEARCH_HOSTS"]); !strings.HasPrefix(h, "https://") {
		t.Errorf("kibana reaches elasticsearch over %q, want https", h)
	}

	// The wiredesk services: one image, the binary's own healthcheck, a
	// grace period longer than the service's drain.
	readsVars := configVars(t, "wiredesk.yaml")
	for _, name := range wiredeskServices {
		s := p.Services[name]
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" || s.Build.Target != "runtime" {
			t.Errorf("%s: not built from deploy/Dockerfile's runtime stage: %+v", name, s.Build)
		}
		if s.Command[0] != name || s.HealthCheck == nil || !slices.Equal(s.HealthCheck.Test[:3], []string{"CMD", name, "healthcheck"}) {
			t.Errorf("%s: command %v, healthcheck %v: want the %s binary and its healthcheck subcommand", name, s.Command, s.HealthCheck, name)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) < grace+10*time.Second {
			t.Errorf("%s: stop_grace_period %v must exceed shutdown_grace %v plus the NATS drain (10s)", name, s.StopGracePeriod, grace)
		}
		required := []string{"WIREDESK_NATS_URL", "WIREDESK_NATS_USER", "WIREDESK_NATS_PASSWORD", "WIREDESK_STREAM_REPLICAS", "WIREDESK_" + strings.ToUpper(name) + "_LISTEN"}
		switch name {
		case "fetcher":
			required = append(required, "WIREDESK_FEEDS")
		case "indexer":
			required = append(required, "WIREDESK_ES_URL", "WIREDESK_ES_CA_CERT")
		}
		for _, v := range required {
			if val(s.Environment[v]) == "" {
				t.Errorf("%s: environment does not set %s", name, v)
			}
		}
		for v := range s.Environment {
			if strings.HasPrefix(v, "WIREDESK_") && !readsVars[v] {
				t.Errorf("%s: sets %s, which deploy/wiredesk.yaml never reads", name, v)
			}
		}
		if u := val(s.Environment["WIREDESK_NATS_USER"]); u != name {
			t.Errorf("%s: NATS user %q, want its own user %q", name, u, name)
		}
		if l := val(s.Environment["WIREDESK_"+strings.ToUpper(name)+"_LISTEN"]); !strings.HasPrefix(l, "0.0.0.0:") {
			t.Errorf("%s: listens on %q: the healthcheck and Prometheus need 0.0.0.0 inside the container", name, l)
		}
	}
	// Each service's password is its own.
	for _, name := range wiredeskServices {
		if got, want := val(p.Services[name].Environment["WIREDESK_NATS_PASSWORD"]), env["NATS_"+strings.ToUpper(name)+"_PASSWORD"]; got != want || got == "" {
			t.Errorf("%s: WIREDESK_NATS_PASSWORD is not NATS_%s_PASSWORD from .env", name, strings.ToUpper(name))
		}
	}
}

// TestComposeConfigCheck runs each wiredesk binary's -config.check on the
// container config with exactly the environment compose gives it.
func TestComposeConfigCheck(t *testing.T) {
	env, _ := testEnv(t)
	p := loadCompose(t, env, "compose.yaml")
	bin := buildBinaries(t)
	cfg, err := filepath.Abs("wiredesk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(slices.Clone(wiredeskServices), "setup", "kibana-setup") {
		s := p.Services[name]
		binary := name
		if strings.HasSuffix(name, "setup") {
			binary = "fetcher" // the same file; `wiredesk setup` has no -config.check
		}
		cmd := exec.Command(filepath.Join(bin, binary), "-config", cfg, "-config.check")
		cmd.Env = []string{}
		for k, v := range s.Environment {
			cmd.Env = append(cmd.Env, k+"="+val(v))
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %s -config.check with the service's environment: %v\n%s", name, binary, err, out)
		}
	}
}

// TestComposeSecrets: no secret is written into the compose files or the
// NATS config; each comes from .env, and compose refuses to start without it.
func TestComposeSecrets(t *testing.T) {
	secret := regexp.MustCompile(`(?i)(password|secret|token|_key|apikey|encryptionkey)$`)
	ref := regexp.MustCompile(`^\$\{[A-Z_][A-Z0-9_]*(:\?[^}]*)?\}$`)
	for _, file := range []string{"compose.yaml", "compose.cluster.yaml"} {
		raw := rawYAML(t, file)
		services, _ := raw["services"].(map[string]any)
		for name, s := range services {
			envm, _ := s.(map[string]any)["environment"].(map[string]any)
			for k, v := range envm {
				sv := fmt.Sprint(v)
				if secret.MatchString(k) && !ref.MatchString(sv) {
					t.Errorf("%s: %s.environment.%s = %q: a secret must be exactly ${VAR:?...} from .env", file, name, k, sv)
				}
			}
		}
	}
	// A required secret left empty stops compose with a message.
	env, _ := testEnv(t)
	env["NATS_INDEXER_PASSWORD"] = ""
	wd, _ := os.Getwd()
	_, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: wd, ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "compose.yaml")}}, Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("wiredesk", true) })
	if err == nil || !strings.Contains(err.Error(), "NATS_INDEXER_PASSWORD") {
		t.Errorf("compose loads with NATS_INDEXER_PASSWORD empty (err %v); want a refusal naming it", err)
	}
	// NATS: every password is a variable.
	for _, f := range []string{"nats/auth.conf", "nats/cluster.conf"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, m := range regexp.MustCompile(`password:\s*([^\s,}]+)`).FindAllStringSubmatch(line, -1) {
				if !strings.HasPrefix(m[1], "$") {
					t.Errorf("%s:%d: literal password %q", f, i+1, m[1])
				}
			}
		}
	}
	// .env.example carries no value for any secret.
	ex := readEnvExample(t)
	for k, v := range ex {
		if (strings.HasSuffix(k, "_PASSWORD") || strings.HasSuffix(k, "_KEY")) && v != "" {
			t.Errorf(".env.example: %s has a value; secrets are generated (init-env.sh)", k)
		}
	}
}

// TestEnvExampleDocumentsEveryVariable: every variable the compose files
// read is in .env.example, and every one there is read.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	ex := readEnvExample(t)
	used := map[string]bool{}
	re := regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`)
	for _, f := range []string{"compose.yaml", "compose.cluster.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			used[m[1]] = true
		}
	}
	for v := range used {
		if _, ok := ex[v]; !ok {
			t.Errorf("compose reads ${%s}, which .env.example does not document", v)
		}
	}
	for v := range ex {
		if !used[v] && v != "COMPOSE_PROJECT_NAME" {
			t.Errorf(".env.example documents %s, which no compose file reads", v)
		}
	}
}

// TestDeployConfigMirrorsConfigs: deploy/wiredesk.yaml has every setting of
// configs/wiredesk.yaml and reads every variable it reads, so a setting
// added there is not silently missing in the containers.
func TestDeployConfigMirrorsConfigs(t *testing.T) {
	want, got := configVars(t, "../configs/wiredesk.yaml"), configVars(t, "wiredesk.yaml")
	for v := range want {
		if !got[v] {
			t.Errorf("configs/wiredesk.yaml reads ${%s}; deploy/wiredesk.yaml does not", v)
		}
	}
	wantKeys, gotKeys := configKeys(t, "../configs/wiredesk.yaml"), configKeys(t, "wiredesk.yaml")
	for k := range wantKeys {
		if !gotKeys[k] {
			t.Errorf("configs/wiredesk.yaml has %s; deploy/wiredesk.yaml does not", k)
		}
	}
	// Keys configs/wiredesk.yaml leaves to their defaults may appear here
	// (the streams' replicas must follow the deployment); the binaries'
	// strict -config.check in TestComposeConfigCheck rejects unknown ones.
	for k := range gotKeys {
		if strings.HasPrefix(k, "streams.") && strings.Count(k, ".") == 1 {
			data, _ := os.ReadFile("wiredesk.yaml")
			line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(strings.TrimPrefix(k, "streams.")) + `:.*$`).Find(data)
			if !strings.Contains(string(line), "replicas: ${WIREDESK_STREAM_REPLICAS:1}") {
				t.Errorf("deploy/wiredesk.yaml: %s does not take its replicas from WIREDESK_STREAM_REPLICAS", k)
			}
		}
	}
}

func TestComposeCluster(t *testing.T) {
	env, _ := testEnv(t)
	p := loadCompose(t, env, "compose.yaml", "compose.cluster.yaml")
	nodes := []string{"nats", "nats-2", "nats-3"}
	for _, n := range nodes {
		s, ok := p.Services[n]
		if !ok {
			t.Fatalf("cluster: no service %s", n)
		}
		if !slices.Contains(s.Command, "/etc/nats/cluster.conf") || s.HealthCheck == nil {
			t.Errorf("%s: command %v, healthcheck %v: want cluster.conf and a healthcheck", n, s.Command, s.HealthCheck)
		}
		if !hasVolume(s, "volume", "/data") {
			t.Errorf("%s: no named volume at /data", n)
		}
		for _, r := range []string{"NATS_ROUTE_1", "NATS_ROUTE_2", "NATS_ROUTE_3", "NATS_SERVER_NAME"} {
			if val(s.Environment[r]) == "" {
				t.Errorf("%s: %s not set", n, r)
			}
		}
		checkImage(t, s.Image)
	}
	for _, name := range wiredeskServices {
		s := p.Services[name]
		if r := val(s.Environment["WIREDESK_STREAM_REPLICAS"]); r != "3" {
			t.Errorf("%s: WIREDESK_STREAM_REPLICAS = %q in the cluster, want 3", name, r)
		}
		u := val(s.Environment["WIREDESK_NATS_URL"])
		for _, n := range nodes {
			if !strings.Contains(u, "nats://"+n+":4222") {
				t.Errorf("%s: WIREDESK_NATS_URL %q does not name %s", name, u, n)
			}
			if d, ok := s.DependsOn[n]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: does not wait for %s to be healthy", name, n)
			}
		}
	}
}

// checkImage: a plain name (no registry host) with a pinned version.
func checkImage(t *testing.T, image string) {
	t.Helper()
	name, tag, ok := strings.Cut(image, ":")
	if !ok || tag == "" || tag == "latest" {
		t.Errorf("image %q is not pinned to a version", image)
		return
	}
	if strings.Contains(name, "/") || strings.Contains(name, ".") {
		t.Errorf("image %q names a registry or namespace; use the plain name", image)
	}
	v := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(tag)
	if v == nil {
		t.Errorf("image %q: tag is not a full version", image)
		return
	}
	major, _ := strconv.Atoi(v[1])
	minor, _ := strconv.Atoi(v[2])
	patch, _ := strconv.Atoi(v[3])
	switch name {
	case "nats":
		if major != 2 || minor < 12 || (minor == 12 && patch < 3) {
			t.Errorf("image %q: want nats 2.12.3 or newer", image)
		}
		// The server the tests run (go.mod) is the server compose runs.
		if want := natsServerVersion(t); strings.TrimPrefix(want, "v") != v[0] {
			t.Errorf("image %q runs nats-server %s, but deploy/nats_test.go tests the config with %s (go.mod): keep them equal", image, v[0], want)
		}
	case "elasticsearch", "kibana":
		if major != 8 {
			t.Errorf("image %q: want 8.x", image)
		}
	}
}

func natsServerVersion(t *testing.T) string {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 (v[0-9.]+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod does not require nats-server")
	}
	return string(m[1])
}

func hasVolume(s types.ServiceConfig, typ, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == typ && v.Target == target {
			return true
		}
	}
	return false
}

func val(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func rawYAML(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

func readEnvExample(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

var configVarRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}`)

// configVars are the variables a wiredesk config file reads.
func configVars(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range configVarRef.FindAllStringSubmatch(line, -1) {
			vars[m[1]] = true
		}
	}
	return vars
}

// configKeys are the dotted key paths of a wiredesk config file, its
// variables replaced by a placeholder.
func configKeys(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	expanded := configVarRef.ReplaceAllString(string(data), "1")
	var m map[string]any
	if err := yaml.Unmarshal([]byte(expanded), &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	keys := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		keys[prefix] = true
		if mm, ok := v.(map[string]any); ok {
			for k, c := range mm {
				walk(strings.TrimPrefix(prefix+"."+k, "."), c)
			}
		}
	}
	for k, v := range m {
		walk(k, v)
	}
	return keys
}

// shutdownGrace is deploy/wiredesk.yaml's shutdown_grace.
func shutdownGrace(t *testing.T) time.Duration {
	t.Helper()
	data, err := os.ReadFile("wiredesk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^shutdown_grace:\s*(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("deploy/wiredesk.yaml sets no shutdown_grace")
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
