package analysis

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// CheckQueries runs each metric's query once on the Prometheus the
// analysis will measure with, so that a query Prometheus cannot parse, or
// one that gives a range vector or a string, is bad input when the step
// starts, not an error at every measurement until the error limit rolls a
// healthy canary back. PromQL's parser is Prometheus itself: the one that
// answers is the one whose dialect counts. Any other failure (Prometheus
// down) is not the query's fault and is left to the measurements.
func CheckQueries(ctx context.Context, api v1.API, spec Spec, vars Vars) error {
	var errs []*FieldError
	for i, ms := range spec.Metrics {
		field := fmt.Sprintf("metrics[%d].query", i)
		if ms.Template != "" {
			field = fmt.Sprintf("metrics[%d].template", i)
		}
		m, err := Compile(ms)
		if err != nil {
			continue // ValidateSpec reports it
		}
		query, err := m.Query(vars)
		if err != nil {
			errs = append(errs, fieldErrorf(field, err, "%v", err))
			continue
		}
		value, _, _, err := api.Query(ctx, query, at(vars))
		var perr *v1.Error
		switch {
		case errors.As(err, &perr) && perr.Type == v1.ErrBadData:
			errs = append(errs, fieldErrorf(field, err, "Prometheus cannot run it: %s; query: %s", perr.Msg, query))
		case err != nil:
		case value.Type() == model.ValMatrix || value.Type() == model.ValString:
			_, serr := seriesOf(value)
			errs = append(errs, fieldErrorf(field, serr, "%v; query: %s", serr, query))
		}
	}
	return joinFieldErrors(errs)
}
