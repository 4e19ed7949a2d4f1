package main

import (
	"context"
	"fmt"
	"strings"

	"istio.io/istio/pkg/config/analysis/analyzers"
	"istio.io/istio/pkg/config/analysis/local"
	"istio.io/istio/pkg/config/resource"
)

// Message is one finding of Istio's analyzers.
type Message struct {
	Code     string `json:"code"`
	Level    string `json:"level"`
	Resource string `json:"resource,omitempty"`
	Message  string `json:"message"`
}

// analyze runs every analyzer of `istioctl analyze` over the objects as
// files, with the defaults istioctl adds when it reads no cluster (an
// ingress gateway in istio-system), and keeps the namespace's findings.
func analyze(ctx context.Context, namespace string, objs []object) ([]Message, error) {
	text, err := toYAML(objs)
	if err != nil {
		return nil, err
	}
	sa := local.NewSourceAnalyzer(analyzers.AllCombined(), resource.Namespace(namespace), resource.Namespace("istio-system"), nil)
	// The "test" reader is the one that keeps Pods, Services and Namespaces
	// from files; the plain one leaves them to a running cluster, and the
	// subset analyzers (IST0173: a subset selects no pod) would see none.
	// It must come first: the defaults reuse the file source it creates.
	if err := sa.AddTestReaderKubeSource([]local.ReaderSource{{Name: "namespace " + namespace, Reader: strings.NewReader(text)}}); err != nil {
		return nil, fmt.Errorf("analyzers' input: %w", err)
	}
	if err := sa.AddDefaultResources(); err != nil {
		return nil, fmt.Errorf("analyzers' defaults: %w", err)
	}
	res, err := sa.Analyze(ctx.Done())
	if err != nil {
		return nil, fmt.Errorf("analyzers: %w", err)
	}
	msgs := []Message{}
	for _, m := range res.Messages {
		u := m.Unstructured(false)
		msg := Message{Code: m.Type.Code(), Level: m.Type.Level().String(), Message: fmt.Sprint(u["message"])}
		if m.Resource != nil {
			msg.Resource = m.Resource.Origin.FriendlyName()
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}
