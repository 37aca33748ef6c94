package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

var binDir string // set by TestMain; binaries built from the Dockerfile's command

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wiredesk-deploy-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the module root, the Dockerfile's build context.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod above deploy/: %v", err)
	}
	return root
}

// testEnv runs init-env.sh into a fresh file, as an operator's first start
// does, and returns the variables it holds.
func testEnv(t testing.TB) (map[string]string, string) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("init-env.sh needs a POSIX sh")
	}
	path := filepath.Join(t.TempDir(), ".env")
	out, err := exec.Command("sh", "./init-env.sh", path).CombinedOutput()
	if err != nil {
		t.Fatalf("init-env.sh: %v\n%s", err, out)
	}
	env, err := dotenv.Read(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return env, path
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// dockerfileBuild returns the go build command of deploy/Dockerfile: the
// RUN line after the "# wiredesk:build" marker, without RUN and its
// --mount flags, split into environment assignments and arguments.
func dockerfileBuild(t testing.TB) (env, args []string) {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "# wiredesk:build" {
			continue
		}
		if i+1 >= len(lines) {
			break
		}
		words, err := shellWords(lines[i+1])
		if err != nil {
			t.Fatalf("Dockerfile build line: %v", err)
		}
		if len(words) == 0 || words[0] != "RUN" {
			t.Fatalf("the line after # wiredesk:build is not a RUN: %q", lines[i+1])
		}
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			words = words[1:]
		}
		for len(words) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[0]) {
			env, words = append(env, words[0]), words[1:]
		}
		return env, words
	}
	t.Fatal("deploy/Dockerfile has no '# wiredesk:build' marker line")
	return nil, nil
}

// shellWords splits a line as sh would for the simple quoting a RUN line
// uses: spaces, single and double quotes, no expansions.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unclosed quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '$' || c == '`' || c == '\\':
			return nil, fmt.Errorf("expansion or escape in %q: keep the build line literal", s)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// buildBinaries runs the Dockerfile's build command with -o into binDir,
// once per test binary, and returns binDir.
func buildBinaries(t testing.TB) string {
	t.Helper()
	env, args := dockerfileBuild(t)
	buildOnce.Do(func() {
		for i := range args {
			if i > 0 && args[i-1] == "-o" {
				args[i] = binDir + string(filepath.Separator)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), env...)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("the Dockerfile's build command failed: %v\n%s", buildErr, buildOut)
	}
	return binDir
}

// isStatic reports whether the ELF file at path has no interpreter and no
// shared libraries, so it runs on an empty base image.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return false, err
	}
	return len(libs) == 0, nil
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test
// reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
