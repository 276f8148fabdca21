package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platformportal/portal/platform/pgtest"
)

// TestServesTheWebUI: with a built UI (here a small one in GATEWAY_UI_DIR;
// `make build` embeds web/dist), / and the app's own routes get the page,
// its files are served, and the API, login and health routes keep theirs.
func TestServesTheWebUI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	page := `<!doctype html><html><head><script type="module" src="/assets/app-1a2b.js"></script></head><body><div id="root"></div></body></html>`
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": page, "assets/app-1a2b.js": "export {}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"GATEWAY_UI_DIR": dir})
	tests := []struct {
		method, path string
		status       int
		contentType  string
		body         string
	}{
		{"GET", "/", 200, "text/html", page},
		{"GET", "/agents/0196-abc?tab=logs", 200, "text/html", page},
		{"GET", "/assets/app-1a2b.js", 200, "text/javascript", "export {}"},
		{"GET", "/assets/missing-9f.js", 404, "", ""},
		{"GET", "/api/v1/agents", 200, "application/json", `"agents"`},
		{"GET", "/api/v1/", 200, "application/json", `"openapi"`},
		{"GET", "/auth/config", 200, "application/json", `"login_url"`},
		{"GET", "/healthz", 200, "application/json", `"ok"`},
		{"POST", "/agents", 404, "application/json", `no route for POST /agents`},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, p.base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(body), tc.body) {
			t.Errorf("%s %s = %d %s %.80q; want %d %s containing %q", tc.method, tc.path, resp.StatusCode,
				resp.Header.Get("Content-Type"), body, tc.status, tc.contentType, tc.body)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s %s has no Content-Security-Policy", tc.method, tc.path)
		}
	}
}
