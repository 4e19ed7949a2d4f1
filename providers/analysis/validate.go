package analysis

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// FieldError is a problem with one field of the spec: Path names the field
// as the user wrote it (metrics[1].successCondition) and the message says
// how to fix it.
type FieldError struct {
	Path string
	Msg  string
	// Err is the cause, when a library found the problem.
	Err error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErrorf(path string, cause error, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: cause}
}

func joinFieldErrors(errs []*FieldError) error {
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// Validate checks one metric; the paths of its errors are relative to the
// metric (successCondition, thresholdRange.min). Every problem is reported,
// joined with errors.Join; errors.As finds each *FieldError.
func Validate(spec MetricSpec) error {
	_, errs := compile(spec)
	return joinFieldErrors(errs)
}

// ValidateSpec checks a whole analysis: Prometheus' address, the limits and
// every metric (paths metrics[i].<field>).
func ValidateSpec(spec Spec) error {
	var errs []*FieldError
	if err := checkAddress(spec.Prometheus.Address); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkLimits(spec.Limits)...)
	if len(spec.Metrics) == 0 {
		errs = append(errs, fieldErrorf("metrics", nil, "is empty; give at least one metric, e.g. {name: success-rate, template: request-success-rate, thresholdRange: {min: 99}}"))
	}
	seen := map[string]int{}
	for i, m := range spec.Metrics {
		prefix := fmt.Sprintf("metrics[%d]", i)
		if j, dup := seen[m.Name]; dup && m.Name != "" {
			errs = append(errs, fieldErrorf(prefix+".name", nil, "%q is also the name of metrics[%d]; give every metric its own name", m.Name, j))
		}
		seen[m.Name] = i
		_, merrs := compile(m)
		for _, e := range merrs {
			e.Path = prefix + "." + e.Path
			errs = append(errs, e)
		}
	}
	return joinFieldErrors(errs)
}

func checkAddress(address string) *FieldError {
	const path, fix = "prometheus.address", "give the absolute URL of Prometheus' HTTP API, e.g. http://prometheus.istio-system:9090"
	if address == "" {
		return fieldErrorf(path, nil, "is empty; %s", fix)
	}
	u, err := url.Parse(address)
	if err != nil {
		return fieldErrorf(path, err, "%q is not a URL (%v); %s", address, err, fix)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErrorf(path, nil, "%q is not an absolute http or https URL; %s", address, fix)
	}
	return nil
}

func checkLimits(l Limits) []*FieldError {
	var errs []*FieldError
	if time.Duration(l.Interval) < time.Second {
		errs = append(errs, fieldErrorf("interval", nil, "is %s; give the time between two measurements, at least 1s and usually a few scrape intervals, e.g. \"1m\"", time.Duration(l.Interval)))
	}
	if l.Count < 1 || l.Count > MaxCount {
		errs = append(errs, fieldErrorf("count", nil, "is %d; give how many measurements of each metric complete the analysis, from 1 to %d", l.Count, MaxCount))
	}
	if l.InitialDelay < 0 {
		errs = append(errs, fieldErrorf("initialDelay", nil, "is %s; give 0 or a positive delay before the first measurement, e.g. \"30s\"", time.Duration(l.InitialDelay)))
	}
	for _, lim := range []struct {
		path string
		v    *int
	}{{"failureLimit", l.FailureLimit}, {"inconclusiveLimit", l.InconclusiveLimit}, {"consecutiveErrorLimit", l.ConsecutiveErrorLimit}} {
		if lim.v != nil && *lim.v < 0 {
			errs = append(errs, fieldErrorf(lim.path, nil, "is %d; give how many such measurements are tolerated, 0 or more", *lim.v))
		}
	}
	return errs
}
