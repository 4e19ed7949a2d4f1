package analysis

import (
	"fmt"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// NewAPI returns a Prometheus API client for address (Spec.Prometheus.Address,
// checked by ValidateSpec).
func NewAPI(address string) (v1.API, error) {
	if err := checkAddress(address); err != nil {
		return nil, err
	}
	client, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", address, err)
	}
	return v1.NewAPI(client), nil
}
