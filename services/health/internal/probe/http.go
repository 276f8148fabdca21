package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxBody is how much of a response we read. Kubernetes reads 10 KiB; we
// only drain (so the connection can be reused) and never keep the body.
const maxBody = 10 << 10

func (r *Runner) probeHTTP(ctx context.Context, a *HTTPGetAction) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return "", errors.New("build request: invalid url")
	}
	for k, vs := range a.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "portal-health-probe")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		// *url.Error's text holds the full URL (maybe with a token in its
		// query); the inner error names only the network failure.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("http get: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return fmt.Sprintf("HTTP %d", resp.StatusCode), nil
	}
	return "", fmt.Errorf("HTTP %d", resp.StatusCode)
}
