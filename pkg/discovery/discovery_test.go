package discovery

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func TestStatic(t *testing.T) {
	p := NewStatic(map[string][]string{
		"identity": {"http://identity.csi.svc:8080/"},
		"records":  {" http://records-0:8080", "", "http://records-1:8080"},
		"empty":    {},
		"blank":    {" "},
	})
	tests := []struct {
		name     string
		service  string
		want     []string
		wantKind errs.Kind // checked when want is nil
	}{
		{name: "one URL, trailing slash trimmed", service: "identity", want: []string{"http://identity.csi.svc:8080"}},
		{name: "several URLs, blanks dropped", service: "records", want: []string{"http://records-0:8080", "http://records-1:8080"}},
		{name: "empty list", service: "empty", wantKind: errs.Unavailable},
		{name: "only blanks", service: "blank", wantKind: errs.Unavailable},
		{name: "not configured", service: "audit", wantKind: errs.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Endpoints(context.Background(), tt.service)
			if tt.want == nil {
				if err == nil || errs.KindOf(err) != tt.wantKind {
					t.Fatalf("Endpoints(%q) = %v, %v; want an error of kind %v", tt.service, got, err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Endpoints(%q) error = %v", tt.service, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Endpoints(%q) (-got +want):\n%s", tt.service, diff)
			}
		})
	}

	t.Run("result is a copy", func(t *testing.T) {
		got, _ := p.Endpoints(context.Background(), "identity")
		got[0] = "http://changed"
		again, _ := p.Endpoints(context.Background(), "identity")
		if again[0] != "http://identity.csi.svc:8080" {
			t.Errorf("Endpoints after changing a result = %v, want the configured URL", again)
		}
	})

	t.Run("closed", func(t *testing.T) {
		p := NewStatic(map[string][]string{"identity": {"http://identity:8080"}})
		p.Close()
		if _, err := p.Endpoints(context.Background(), "identity"); errs.KindOf(err) != errs.Unavailable {
			t.Errorf("Endpoints after Close error = %v, want kind unavailable", err)
		}
	})
}

func TestRoundRobin(t *testing.T) {
	p := NewStatic(map[string][]string{
		"records":  {"http://a:1", "http://b:2", "http://c:3"},
		"identity": {"http://only:1"},
	})
	tests := []struct {
		name    string
		service string
		calls   int
		want    []string
	}{
		{name: "alternates in order", service: "records", calls: 7, want: []string{
			"http://a:1", "http://b:2", "http://c:3", "http://a:1", "http://b:2", "http://c:3", "http://a:1",
		}},
		{name: "single instance", service: "identity", calls: 3, want: []string{"http://only:1", "http://only:1", "http://only:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := RoundRobin(p, tt.service)
			var got []string
			for range tt.calls {
				u, err := next(context.Background())
				if err != nil {
					t.Fatalf("next() error = %v", err)
				}
				got = append(got, u)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("picks (-got +want):\n%s", diff)
			}
		})
	}

	t.Run("no instance", func(t *testing.T) {
		next := RoundRobin(p, "audit")
		u, err := next(context.Background())
		if errs.KindOf(err) != errs.Unavailable {
			t.Errorf("next() = %q, %v; want an error of kind unavailable", u, err)
		}
	})

	t.Run("concurrent picks spread evenly", func(t *testing.T) {
		next := RoundRobin(p, "records")
		const perWorker, workers = 30, 4
		results := make(chan string, perWorker*workers)
		for range workers {
			go func() {
				for range perWorker {
					u, err := next(context.Background())
					if err != nil {
						u = err.Error()
					}
					results <- u
				}
			}()
		}
		got := map[string]int{}
		for range perWorker * workers {
			got[<-results]++
		}
		want := map[string]int{"http://a:1": 40, "http://b:2": 40, "http://c:3": 40}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("picks per URL (-got +want):\n%s", diff)
		}
	})
}

func TestBaseURLs(t *testing.T) {
	tests := []struct {
		name      string
		instances []string
		want      []string
	}{
		{name: "ipv4", instances: []string{"10.0.0.1:8080"}, want: []string{"http://10.0.0.1:8080"}},
		{name: "host name", instances: []string{"identity.node.consul:80"}, want: []string{"http://identity.node.consul:80"}},
		{name: "bare ipv6 from the instancer", instances: []string{"::1:8080"}, want: []string{"http://[::1]:8080"}},
		{name: "bracketed ipv6", instances: []string{"[fe80::1]:9000"}, want: []string{"http://[fe80::1]:9000"}},
		{name: "no port dropped", instances: []string{"junk", "10.0.0.2:1"}, want: []string{"http://10.0.0.2:1"}},
		{name: "none", instances: nil, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(baseURLs(tt.instances), tt.want); diff != "" {
				t.Errorf("baseURLs(%q) (-got +want):\n%s", tt.instances, diff)
			}
		})
	}
}
