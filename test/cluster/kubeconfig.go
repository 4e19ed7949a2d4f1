package cluster

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// kubeconfig is the one-cluster, one-user kubeconfig this package writes.
// It is written and read here with a minimal schema instead of client-go's
// clientcmd, which would pull several more modules into the root module.
type kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	CurrentContext string         `json:"current-context"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
}

type namedCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server                   string `json:"server"`
		CertificateAuthorityData []byte `json:"certificate-authority-data"`
	} `json:"cluster"`
}

type namedUser struct {
	Name string `json:"name"`
	User struct {
		Token string `json:"token"`
	} `json:"user"`
}

type namedContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster   string `json:"cluster"`
		User      string `json:"user"`
		Namespace string `json:"namespace"`
	} `json:"context"`
}

// writeKubeconfig writes a self-contained admin kubeconfig (CA embedded).
func writeKubeconfig(path string, port int, creds pki) error {
	return writeTokenKubeconfig(path, port, creds.CACert, creds.AdminToken)
}

// writeTokenKubeconfig writes a self-contained kubeconfig (CA embedded) of
// the user of a bearer token.
func writeTokenKubeconfig(path string, port int, caFile, token string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	const name = "istio-canary-local"
	c := namedCluster{Name: name}
	c.Cluster.Server = "https://" + addr(port)
	c.Cluster.CertificateAuthorityData = ca
	u := namedUser{Name: name}
	u.User.Token = token
	x := namedContext{Name: name}
	x.Context.Cluster, x.Context.User, x.Context.Namespace = name, name, "default"
	data, err := yaml.Marshal(kubeconfig{
		APIVersion: "v1", Kind: "Config", CurrentContext: name,
		Clusters: []namedCluster{c}, Users: []namedUser{u}, Contexts: []namedContext{x},
	})
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// restConfigFromKubeconfig reads a kubeconfig written by writeKubeconfig.
func restConfigFromKubeconfig(path string) (*rest.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	var k kubeconfig
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("parse kubeconfig %s: %w", path, err)
	}
	if len(k.Clusters) != 1 || len(k.Users) != 1 {
		return nil, fmt.Errorf("kubeconfig %s: want one cluster and one user, got %d and %d", path, len(k.Clusters), len(k.Users))
	}
	return &rest.Config{
		Host:            k.Clusters[0].Cluster.Server,
		BearerToken:     k.Users[0].User.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: k.Clusters[0].Cluster.CertificateAuthorityData},
		QPS:             100,
		Burst:           200,
	}, nil
}
