//go:build deps

// Package deps pins the libraries the project builds on until code imports them.
package deps

import (
	_ "cuelang.org/go/cue/cuecontext"
	_ "github.com/kubevela/workflow/api/v1alpha1"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/stretchr/testify/require"
	_ "istio.io/client-go/pkg/clientset/versioned/fake"
	_ "k8s.io/client-go/dynamic/fake"
	_ "k8s.io/client-go/kubernetes/fake"
	_ "k8s.io/klog/v2/ktesting"
	_ "sigs.k8s.io/yaml"
)
