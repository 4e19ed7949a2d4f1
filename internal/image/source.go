package image

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Source is what the image records about the sources it was built from.
type Source struct {
	// Revision is the commit the build is from.
	Revision string
	// Version is `git describe --tags --always --dirty`: a tag when the commit
	// has one, and marked dirty when the tree has changes the commit lacks.
	Version string
	// Created is the image's creation time: SOURCE_DATE_EPOCH when set, else
	// the commit time, so that rebuilding later does not change the digest.
	Created time.Time
}

// ReadSource reads Source from the git repository at dir. sourceDateEpoch is
// the value of SOURCE_DATE_EPOCH ("" when unset).
func ReadSource(ctx context.Context, dir, sourceDateEpoch string) (Source, error) {
	var s Source
	var err error
	if s.Revision, err = git(ctx, dir, "rev-parse", "HEAD"); err != nil {
		return Source{}, err
	}
	if s.Version, err = git(ctx, dir, "describe", "--tags", "--always", "--dirty"); err != nil {
		return Source{}, err
	}
	epoch := sourceDateEpoch
	if epoch == "" {
		if epoch, err = git(ctx, dir, "log", "-1", "--format=%ct", "HEAD"); err != nil {
			return Source{}, err
		}
	}
	if s.Created, err = ParseEpoch(epoch); err != nil {
		return Source{}, err
	}
	return s, nil
}

// ParseEpoch parses seconds since the Unix epoch, as SOURCE_DATE_EPOCH and
// git's %ct give them, into a UTC time.
func ParseEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("source date epoch %q: want a non-negative number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}
