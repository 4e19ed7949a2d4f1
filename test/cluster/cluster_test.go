package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/test/prometheus"
)

func TestParseStartTimeCountsFieldsAfterTheName(t *testing.T) {
	// The name may contain spaces and parentheses.
	stat := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10"
	got, err := parseStartTime(stat)
	require.NoError(t, err)
	require.Equal(t, uint64(987654), got)

	_, err = parseStartTime("garbage")
	require.Error(t, err)
}

func TestOwnProcessIsAliveAndAnotherStartTimeIsNot(t *testing.T) {
	startTime, err := processStartTime(os.Getpid())
	require.NoError(t, err)
	require.True(t, Process{PID: os.Getpid(), StartTime: startTime}.isAlive())
	require.False(t, Process{PID: os.Getpid(), StartTime: startTime + 1}.isAlive(), "a reused PID must not count as ours")
}

func TestGeneratedServingCertificateVerifiesForLoopback(t *testing.T) {
	creds, err := generatePKI(t.TempDir())
	require.NoError(t, err)

	caPEM, err := os.ReadFile(creds.CACert)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))

	pair, err := tls.LoadX509KeyPair(creds.APIServerCert, creds.APIServerKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	for _, host := range []string{"127.0.0.1", "kubernetes.default.svc"} {
		_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
		require.NoError(t, err, "verify for %s", host)
	}

	saKey, err := os.ReadFile(creds.ServiceAcctKey)
	require.NoError(t, err)
	block, _ := pem.Decode(saKey)
	require.NotNil(t, block)
	_, err = x509.ParseECPrivateKey(block.Bytes)
	require.NoError(t, err)
}

func TestKubeconfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	creds, err := generatePKI(filepath.Join(dir, "pki"))
	require.NoError(t, err)
	path := filepath.Join(dir, "kubeconfig")
	require.NoError(t, writeKubeconfig(path, 12345, creds))

	config, err := restConfigFromKubeconfig(path)
	require.NoError(t, err)
	require.Equal(t, "https://127.0.0.1:12345", config.Host)
	require.Equal(t, creds.AdminToken, config.BearerToken)
	require.NotEmpty(t, config.CAData)
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(5)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}

func TestPrometheusTargetsAreAddedAndRemovedOneByOne(t *testing.T) {
	dir := t.TempDir()
	l := layout{dir: dir}
	require.NoError(t, os.MkdirAll(l.prometheusDir(), 0o700))
	c := &Cluster{Dir: dir}
	removeA, err := c.AddPrometheusTarget("127.0.0.1:1001")
	require.NoError(t, err)
	removeB, err := c.AddPrometheusTarget("127.0.0.1:1002")
	require.NoError(t, err)
	got, err := prometheus.ReadTargets(l.prometheusTargets())
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:1001", "127.0.0.1:1002"}, got, "a second test's target does not replace the first's")
	require.NoError(t, removeA())
	got, err = prometheus.ReadTargets(l.prometheusTargets())
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:1002"}, got)
	require.NoError(t, removeB())
}

func TestVelaCoreAuthenticationModeOnlyWhenAsked(t *testing.T) {
	l := layout{dir: "/state"}
	p := Ports{VelaHealth: 1, VelaWebhook: 2}
	plain := velaCore(l, p, false)
	require.Contains(t, plain.args, "--use-webhook=false")
	require.Empty(t, plain.env, "the default vela-core runs with the admin kubeconfig")
	for _, a := range plain.args {
		require.NotContains(t, a, "authentication", "the default vela-core has no authentication flag")
	}

	auth := velaCore(l, p, true)
	for _, want := range []string{
		"--feature-gates=AuthenticateApplication=true",
		"--authentication-with-user=true",
		"--use-webhook=true",
		"--webhook-port=2",
		"--webhook-cert-dir=/state/vela-webhook-certs",
	} {
		require.Contains(t, auth.args, want)
	}
	require.NotContains(t, auth.args, "--use-webhook=false")
	require.Equal(t, []string{"KUBECONFIG=/state/vela-core.kubeconfig"}, auth.env)
}
