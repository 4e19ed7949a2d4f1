package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/internal/status"
)

var errStop = errors.New("stop before connecting")

const testKubeconfig = `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: one
  cluster: {server: "https://one.example:6443"}
- name: two
  cluster: {server: "https://two.example:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: one, user: u, namespace: team-a}
- name: b
  context: {cluster: two, user: u}
`

func TestKubeconfigRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, []byte(testKubeconfig), 0o600))
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // never fall back to in-cluster here
	cases := []struct {
		name       string
		kubeconfig string // KUBECONFIG
		args       []string
		host, ns   string
	}{
		{"--kubeconfig, current context's namespace", "", []string{"--kubeconfig", path}, "https://one.example:6443", "team-a"},
		{"$KUBECONFIG", path, nil, "https://one.example:6443", "team-a"},
		{"-n wins", path, []string{"-n", "prod"}, "https://one.example:6443", "prod"},
		{"--context without namespace: default", path, []string{"--context", "b"}, "https://two.example:6443", "default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.kubeconfig)
			t.Setenv("HOME", t.TempDir()) // no ~/.kube/config
			var got kubeFlags
			e := &env{getenv: func(string) string { return "" }, newClients: nil}
			cmd := newRootCmd(e)
			cmd.SetArgs(append([]string{"status", "book-info"}, tc.args...))
			e.newClients = func(f kubeFlags) (status.Clients, string, error) {
				got = f
				return status.Clients{}, "", errStop
			}
			require.ErrorIs(t, cmd.Execute(), errStop)
			cfg, ns, err := got.restConfig()
			require.NoError(t, err)
			assert.Equal(t, tc.host, cfg.Host)
			assert.Equal(t, tc.ns, ns)
			assert.Equal(t, "istio-canary", cfg.UserAgent[:len("istio-canary")])
		})
	}
}

func TestKubeconfigMissingFile(t *testing.T) {
	_, _, err := kubeFlags{kubeconfig: filepath.Join(t.TempDir(), "none")}.restConfig()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kubeconfig")
}

func TestKubeUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	config := testKubeconfig + `- name: c
  context: {cluster: one, user: alice@example}
`
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	assert.Equal(t, "u", kubeUser(kubeFlags{kubeconfig: path}), "the current context's user")
	assert.Equal(t, "alice@example", kubeUser(kubeFlags{kubeconfig: path, context: "c"}), "--context")
	assert.Empty(t, kubeUser(kubeFlags{kubeconfig: path, context: "none"}), "no such context")
	assert.Empty(t, kubeUser(kubeFlags{kubeconfig: filepath.Join(t.TempDir(), "missing")}))
}
