package command

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"github.com/vigil-sec/vigil/hub"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol/identity"
	"gopkg.in/yaml.v3"
)

const nodeCertValidity = 5 * 365 * 24 * time.Hour

func runInit(env Env, args []string) error {
	fs := newFlags("init", env)
	data := fs.String("data", "", "data directory to create (required)")
	nodeID := fs.String("node-id", "hub-1", "this node's ID")
	ips := fs.String("ip", "127.0.0.1", "comma-separated IP addresses for the node certificate")
	dns := fs.String("dns", "localhost", "comma-separated DNS names for the node certificate")
	ingest := fs.String("ingest-addr", "0.0.0.0:7443", "UDP address for agents (QUIC)")
	advIngest := fs.String("advertise-ingest", "", "address agents are told to use (default: first -ip with the ingest port)")
	raftAddr := fs.String("raft-addr", "0.0.0.0:7444", "TCP address of the Raft transport")
	advRaft := fs.String("advertise-raft", "", "Raft address peers dial (default: first -ip with the raft port)")
	apiAddr := fs.String("api-addr", "127.0.0.1:8443", "TCP address of the HTTPS API")
	advAPI := fs.String("advertise-api", "", "API address other nodes use (default: first -ip with the api port)")
	join := fs.String("join", "", "API address of a node of an existing cluster to join (needs -token); with -bootstrap-expect, the comma-separated API addresses of the other servers")
	token := fs.String("token", "", "server join token from 'vigil-hub operator join-token create'")
	expect := fs.Int("bootstrap-expect", 0, "form a new cluster once this many servers (this one included) reach each other through -join")
	caFrom := fs.String("ca-from", "", "data directory of a server initialised earlier: use its cluster CA and admin token (for -bootstrap-expect clusters)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return &usageError{"-data is required"}
	}
	if *expect < 0 {
		return &usageError{"-bootstrap-expect must not be negative"}
	}
	if *expect > 0 && *token != "" {
		return &usageError{"-bootstrap-expect forms a new cluster; -token joins an existing one: use one of them"}
	}
	if *expect > 0 && len(splitList(*join)) < *expect-1 {
		return &usageError{fmt.Sprintf("-bootstrap-expect %d needs the API addresses of the other %d servers in -join", *expect, *expect-1)}
	}
	if *caFrom != "" && *token != "" {
		return &usageError{"-ca-from and -token exclude each other: a joining node gets the CA from the cluster"}
	}
	tokenJoin := *join != "" && *expect == 0
	if err := identity.ValidateName(*nodeID); err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	var ipList []net.IP
	for _, s := range splitList(*ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return &usageError{fmt.Sprintf("-ip: %q is not an IP address", s)}
		}
		ipList = append(ipList, ip)
	}
	if len(ipList) == 0 {
		return &usageError{"-ip needs at least one address"}
	}
	// The CLI on the node itself reaches the API over loopback, so the
	// certificate always names it too.
	certIPs := append([]net.IP(nil), ipList...)
	if !slices.ContainsFunc(certIPs, func(ip net.IP) bool { return ip.IsLoopback() }) {
		certIPs = append(certIPs, net.IPv4(127, 0, 0, 1))
	}
	certDNS := splitList(*dns)
	if !slices.Contains(certDNS, "localhost") {
		certDNS = append(certDNS, "localhost")
	}
	if _, err := os.Stat(filepath.Join(*data, "hub.yaml")); err == nil {
		return fmt.Errorf("%s is already initialized (hub.yaml exists)", *data)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	cfg := config.DefaultConfig()
	cfg.DataDir = *data
	cfg.NodeID = *nodeID
	now := time.Now()
	var fingerprint string
	switch {
	case tokenJoin:
		if *token == "" {
			return &usageError{"-join needs -token (or -bootstrap-expect to form a new cluster)"}
		}
		ipStrs := make([]string, len(certIPs))
		for i, ip := range certIPs {
			ipStrs[i] = ip.String()
		}
		jr, err := hub.RequestJoin(context.Background(), *join, hub.JoinRequest{Token: *token, NodeID: *nodeID, IPs: ipStrs, DNS: certDNS})
		if err != nil {
			return err
		}
		for _, f := range []struct {
			path   string
			data   []byte
			secret bool
		}{
			{filepath.Join(cfg.TLSDir(), pki.CACertFile), jr.CACertPEM, false},
			{filepath.Join(cfg.TLSDir(), pki.CAKeyFile), jr.CAKeyPEM, true},
			{cfg.NodeCertFile(), jr.NodeCertPEM, false},
			{cfg.NodeKeyFile(), jr.NodeKeyPEM, true},
			{cfg.AdminTokenFile(), []byte(jr.AdminToken + "\n"), true},
		} {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
				return err
			}
			write := pki.WriteSecretFile
			if !f.secret {
				write = func(p string, d []byte) error { return pki.WriteFile(p, d, 0o644) }
			}
			if err := write(f.path, f.data); err != nil {
				return err
			}
		}
		ca, err := pki.LoadCA(cfg.TLSDir())
		if err != nil {
			return err
		}
		fingerprint = ca.Fingerprint()
	default:
		var ca *pki.CA
		var err error
		if *caFrom != "" {
			ca, err = copyCA(*caFrom, cfg)
		} else {
			ca, err = pki.CreateCA(cfg.TLSDir(), now)
		}
		if err != nil {
			return err
		}
		fingerprint = ca.Fingerprint()
		certPEM, keyPEM, err := ca.IssueNode(*nodeID, certDNS, certIPs, now, nodeCertValidity)
		if err != nil {
			return err
		}
		if err := pki.WriteFile(cfg.NodeCertFile(), certPEM, 0o644); err != nil {
			return err
		}
		if err := pki.WriteSecretFile(cfg.NodeKeyFile(), keyPEM); err != nil {
			return err
		}
		if *caFrom == "" {
			var tb [32]byte
			if _, err := rand.Read(tb[:]); err != nil {
				return err
			}
			admin := "vgla_" + base64.RawURLEncoding.EncodeToString(tb[:])
			if err := pki.WriteSecretFile(cfg.AdminTokenFile(), []byte(admin+"\n")); err != nil {
				return err
			}
		}
	}
	var err error
	withPort := func(addr, adv string) (string, error) {
		if adv != "" {
			return adv, nil
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(ipList[0].String(), port), nil
	}
	if cfg.AdvertiseIngest, err = withPort(*ingest, *advIngest); err != nil {
		return fmt.Errorf("-ingest-addr: %w", err)
	}
	if cfg.AdvertiseRaft, err = withPort(*raftAddr, *advRaft); err != nil {
		return fmt.Errorf("-raft-addr: %w", err)
	}
	if cfg.AdvertiseAPI, err = withPort(*apiAddr, *advAPI); err != nil {
		return fmt.Errorf("-api-addr: %w", err)
	}
	cfg.IngestAddr, cfg.RaftAddr, cfg.APIAddr = *ingest, *raftAddr, *apiAddr
	out := map[string]any{
		"node_id": cfg.NodeID, "data_dir": ".", "ingest_addr": cfg.IngestAddr, "advertise_ingest": cfg.AdvertiseIngest,
		"raft_addr": cfg.RaftAddr, "advertise_raft": cfg.AdvertiseRaft, "api_addr": cfg.APIAddr,
		"advertise_api": cfg.AdvertiseAPI, "log_level": "info",
	}
	if *expect > 0 {
		out["bootstrap_expect"] = *expect
	} else {
		out["bootstrap"] = *join == ""
	}
	if *join != "" {
		out["join"] = splitList(*join)
	}
	y, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	header := "# vigil-hub configuration written by 'vigil-hub init'. data_dir is relative to this file.\n"
	if err := pki.WriteFile(filepath.Join(*data, "hub.yaml"), append([]byte(header), y...), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Initialized hub node %q in %s\n", cfg.NodeID, *data)
	switch {
	case *expect > 0:
		fmt.Fprintf(env.Stdout, "  forms a cluster of %d with: %s\n", *expect, *join)
	case *join != "":
		fmt.Fprintf(env.Stdout, "  joins the cluster of:    %s\n", *join)
	}
	fmt.Fprintf(env.Stdout, "  CA fingerprint (sha256): %s\n", fingerprint)
	fmt.Fprintf(env.Stdout, "  admin token:             %s (0600)\n", cfg.AdminTokenFile())
	fmt.Fprintf(env.Stdout, "Start it with: vigil-hub serve -c %s\n", filepath.Join(*data, "hub.yaml"))
	return nil
}

// copyCA takes the cluster CA and admin token of the server initialised in
// dir, for a server of a bootstrap_expect cluster that must share them.
func copyCA(dir string, cfg config.Config) (*pki.CA, error) {
	src := config.Config{DataDir: dir}
	if _, err := pki.LoadCA(src.TLSDir()); err != nil {
		return nil, fmt.Errorf("-ca-from %s: %w", dir, err)
	}
	for _, f := range []struct {
		from, to string
		secret   bool
	}{
		{filepath.Join(src.TLSDir(), pki.CACertFile), filepath.Join(cfg.TLSDir(), pki.CACertFile), false},
		{filepath.Join(src.TLSDir(), pki.CAKeyFile), filepath.Join(cfg.TLSDir(), pki.CAKeyFile), true},
		{src.AdminTokenFile(), cfg.AdminTokenFile(), true},
	} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			return nil, fmt.Errorf("-ca-from: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(f.to), 0o700); err != nil {
			return nil, err
		}
		if f.secret {
			err = pki.WriteSecretFile(f.to, b)
		} else {
			err = pki.WriteFile(f.to, b, 0o644)
		}
		if err != nil {
			return nil, err
		}
	}
	return pki.LoadCA(cfg.TLSDir())
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
