package command

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/hub/config"
)

// runHealth is a liveness probe for a container HEALTHCHECK or a service
// manager: GET /v1/health on the local node's API, verified against the
// cluster CA. It needs no API token and says nothing about Raft (use status
// for that): a follower without a leader is still a healthy process.
func runHealth(env Env, args []string) error {
	fs := newFlags("health", env)
	data := fs.String("data", "", "data directory of the local node: its hub.yaml gives the API address, tls/ca.crt the CA")
	addr := fs.String("addr", os.Getenv("VIGIL_ADDR"), "hub API address, e.g. https://127.0.0.1:8443 (env VIGIL_ADDR; default from -data)")
	caFile := fs.String("ca-file", os.Getenv("VIGIL_CACERT"), "cluster CA certificate (env VIGIL_CACERT; default from -data)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data != "" {
		cfg, err := config.Load(filepath.Join(*data, "hub.yaml"))
		if err != nil {
			return oneLine(err)
		}
		if *addr == "" {
			*addr = localAPIAddr(cfg.APIAddr)
		}
		if *caFile == "" {
			*caFile = filepath.Join(cfg.TLSDir(), "ca.crt")
		}
	}
	switch {
	case *addr == "":
		return &usageError{"no hub address: set -addr, VIGIL_ADDR or -data"}
	case *caFile == "":
		return &usageError{"no CA certificate: set -ca-file, VIGIL_CACERT or -data"}
	}
	if !strings.HasPrefix(*addr, "https://") {
		*addr = "https://" + *addr
	}
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		return oneLine(fmt.Errorf("read CA certificate: %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("no certificate in %s", *caFile)
	}
	c := &http.Client{
		Timeout:   *timeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}},
	}
	url := strings.TrimSuffix(*addr, "/") + "/v1/health"
	resp, err := c.Get(url)
	if err != nil {
		return oneLine(fmt.Errorf("hub not healthy: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return oneLine(fmt.Errorf("hub not healthy: %s: read body: %w", url, err))
	}
	var st struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Status != "ok" {
		if len(body) > 200 {
			body = body[:200]
		}
		return oneLine(fmt.Errorf("hub not healthy: %s answered %d: %s", url, resp.StatusCode, body))
	}
	fmt.Fprintf(env.Stdout, "healthy: %s\n", url)
	return nil
}

// localAPIAddr turns the API listen address into one this host can dial:
// an unspecified host (0.0.0.0, ::, empty) becomes 127.0.0.1, which
// 'vigil-hub init' always puts in the node certificate.
func localAPIAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// oneLine keeps a probe's reason on one line, as container runtimes show
// only the last output of a health check.
func oneLine(err error) error {
	return fmt.Errorf("%s", strings.Join(strings.Fields(err.Error()), " "))
}
