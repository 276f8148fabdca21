package config

import (
	"context"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Log      Log
	Postgres Postgres
	NATS     NATS
	Shutdown Shutdown
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(sample) bool
		wantErr string
	}{
		{"defaults", nil, func(s sample) bool {
			return s.Log.Level == "info" && strings.Contains(s.Postgres.URL, "127.0.0.1:5432/portal") &&
				s.NATS.URL == "" && s.NATS.DuplicateWindow == 10*time.Minute && s.Shutdown.Timeout == 15*time.Second
		}, ""},
		{"overrides", map[string]string{"LOG_LEVEL": "debug", "NATS_URL": "nats://n:4222", "PORTAL_SHUTDOWN_TIMEOUT": "3s"},
			func(s sample) bool {
				return s.Log.Level == "debug" && s.NATS.URL == "nats://n:4222" && s.Shutdown.Timeout == 3*time.Second
			}, ""},
		{"bad duration", map[string]string{"PORTAL_SHUTDOWN_TIMEOUT": "soon"}, nil, "PORTAL_SHUTDOWN_TIMEOUT"},
		{"bad number", map[string]string{"DATABASE_MAX_CONNS": "many"}, nil, "DATABASE_MAX_CONNS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s sample
			err := Load(context.Background(), func(k string) string { return tc.env[k] }, &s)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %v; want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(s) {
				t.Fatalf("Load = %+v, %v", s, err)
			}
		})
	}
}

func TestSlogLevel(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{"debug": true, "INFO": true, "warn": true, "error": true, "loud": false} {
		_, err := Log{Level: in}.SlogLevel()
		if (err == nil) != ok {
			t.Errorf("SlogLevel(%q) error = %v; want ok=%v", in, err, ok)
		}
	}
}
