package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// DefaultQueryTimeout bounds a query whose context has no deadline: a step
// must not hang on a Prometheus that does not answer.
const DefaultQueryTimeout = 30 * time.Second

// Measure compiles spec and measures it once; see Metric.Measure. A spec
// that does not validate gives an Error measurement.
func Measure(ctx context.Context, api v1.API, spec MetricSpec, vars Vars) Measurement {
	m, err := Compile(spec)
	if err != nil {
		return Measurement{Time: at(vars), Phase: PhaseError, Message: fmt.Sprintf("metric %q is invalid: %v", spec.Name, err)}
	}
	return m.Measure(ctx, api, vars)
}

func at(vars Vars) time.Time {
	if vars.Time.IsZero() {
		return time.Now()
	}
	return vars.Time
}

// Measure runs the metric's instant query at vars.Time and judges the
// result by the outcome table of the package doc.
func (m *Metric) Measure(ctx context.Context, api v1.API, vars Vars) Measurement {
	meas := Measurement{Time: at(vars), Phase: PhaseError}
	query, err := m.Query(vars)
	if err != nil {
		meas.Message = err.Error()
		return meas
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultQueryTimeout)
		defer cancel()
	}
	value, warnings, _, err := api.Query(ctx, query, meas.Time)
	if err != nil {
		meas.Message = queryError(err, query)
		return meas
	}
	all, err := seriesOf(value)
	if err != nil {
		meas.Message = fmt.Sprintf("%v; query: %s", err, query)
		return meas
	}
	for i, s := range all {
		if i == MaxValues {
			break
		}
		meas.Values = append(meas.Values, Value(s.value))
	}
	phase, msg, err := m.judge(all)
	if err != nil {
		meas.Message = err.Error()
		return meas
	}
	meas.Phase, meas.Message = phase, msg
	if len(warnings) > 0 {
		meas.Message += "; Prometheus warns: " + strings.Join(warnings, "; ")
	}
	return meas
}

// queryError says what went wrong and where to look.
func queryError(err error, query string) string {
	var perr *v1.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &perr) && perr.Type == v1.ErrTimeout:
		return fmt.Sprintf("Prometheus did not answer in time (%v); it may be overloaded, or the query too heavy: %s", err, query)
	case errors.As(err, &perr) && perr.Type == v1.ErrBadData:
		return fmt.Sprintf("Prometheus rejected the query (%v); fix the metric's query: %s", err, query)
	}
	return fmt.Sprintf("querying Prometheus failed (%v); check prometheus.address and that Prometheus runs: %s", err, query)
}

// seriesOf turns an instant query's result into series. A range vector
// (matrix) or a string cannot be judged: the metric's query is wrong.
func seriesOf(value model.Value) ([]series, error) {
	switch v := value.(type) {
	case *model.Scalar:
		return []series{{value: float64(v.Value)}}, nil
	case model.Vector:
		all := make([]series, 0, len(v))
		for _, s := range v {
			if s.Histogram != nil {
				return nil, fmt.Errorf("the series %s is a native histogram, not a number: use an instant query that gives numbers, e.g. histogram_quantile(0.99, ...)", s.Metric)
			}
			all = append(all, series{labels: s.Metric.String(), value: float64(s.Value)})
		}
		return all, nil
	case model.Matrix:
		return nil, errors.New("the query gave a range vector (matrix): use an instant query, e.g. wrap x[5m] in rate(...) or another function that gives one value per series")
	case nil:
		return nil, errors.New("no result from Prometheus")
	}
	return nil, fmt.Errorf("the query gave a %s, not a number: use an instant query that gives a number or a vector", value.Type())
}
