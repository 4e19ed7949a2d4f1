package prometheus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// DefaultWaitTimeout bounds the waits when their context has no deadline.
const DefaultWaitTimeout = 30 * time.Second

// pollEvery is how often the waits ask again: a scrape a second makes a
// new answer possible every second.
const pollEvery = 200 * time.Millisecond

// WaitForQuery runs the instant query until its result is not empty (a
// vector or matrix with a series, or a scalar), within ctx's deadline, and
// returns that result.
func (s *Server) WaitForQuery(ctx context.Context, query string) (model.Value, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last string
	for {
		value, _, _, err := s.api.Query(ctx, query, time.Now())
		switch {
		case err != nil:
			last = "error: " + err.Error()
		case !empty(value):
			return value, nil
		default:
			last = "empty result"
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the query %s gave no result in time (last: %s); prometheus log: %s", query, last, s.logPath)
		case <-tick.C:
		}
	}
}

func empty(v model.Value) bool {
	switch v := v.(type) {
	case model.Vector:
		return len(v) == 0
	case model.Matrix:
		return len(v) == 0
	}
	return v == nil
}

// WaitForTarget waits until target (host:port) has been scraped
// successfully, within ctx's deadline.
func (s *Server) WaitForTarget(ctx context.Context, target string) error {
	_, err := s.WaitForQuery(ctx, "up{instance="+strconv.Quote(target)+"} == 1")
	return err
}
