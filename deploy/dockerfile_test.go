package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfileBuild runs the Dockerfile's build command (the line after
// "# wiredesk:build") and checks that it yields every binary compose and
// setup run, statically linked for the empty runtime image.
func TestDockerfileBuild(t *testing.T) {
	env, args := dockerfileBuild(t)
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("build line sets %v: want CGO_ENABLED=0 for static binaries", env)
	}
	if len(args) < 2 || args[0] != "go" || args[1] != "build" || !slices.Contains(args, "-trimpath") {
		t.Errorf("build line %v: want go build -trimpath", args)
	}
	bin := buildBinaries(t)
	for _, name := range []string{"fetcher", "enricher", "indexer", "wiredesk"} {
		static, err := isStatic(filepath.Join(bin, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !static {
			t.Errorf("%s is dynamically linked; the runtime image has no libc", name)
		}
	}
}

// TestDockerfileSources: what the Dockerfile copies from the build context
// exists (compose-go does not check), its images are plain pinned names,
// and the runtime stage runs as a non-root user.
func TestDockerfileSources(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	args := map[string]string{}
	stage := ""
	users := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "ARG":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				args[k] = v
			}
		case "FROM":
			image := regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(f[1], func(m string) string {
				return args[strings.Trim(m, "${}")]
			})
			if len(f) >= 4 && strings.EqualFold(f[2], "AS") {
				stage = f[3]
			}
			if image == "scratch" {
				continue
			}
			name, tag, ok := strings.Cut(image, ":")
			if !ok || tag == "" || tag == "latest" || strings.Contains(name, "/") || strings.Contains(name, ".") {
				t.Errorf("FROM %s (%s): want a plain image name with a version tag", f[1], image)
			}
		case "COPY":
			if strings.HasPrefix(f[1], "--from=") {
				continue
			}
			for _, src := range f[1 : len(f)-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: not in the build context: %v", src, err)
				}
			}
		case "USER":
			users[stage] = f[1]
		}
	}
	if u := users["runtime"]; u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("runtime stage runs as %q: want a non-root user", u)
	}
	// The binaries compose runs are on the runtime image's PATH.
	if !strings.Contains(string(data), "COPY --from=build /out/ /usr/local/bin/") || !strings.Contains(string(data), "ENV PATH=/usr/local/bin") {
		t.Errorf("runtime stage must put /out/ on PATH at /usr/local/bin")
	}
}
