package contract

import "time"

// AnnotationCompletedAt is when the steps moved all the traffic of the
// rollout the VirtualService records to its canary (RFC 3339). It is written
// only for a component whose rollout trait has a scaleDownDelay: the stable
// version keeps its instances until this time plus the delay, so that a
// rollback in that window needs no new pods.
const AnnotationCompletedAt = "canary.oam.dev/completed-at"

// CompletedAt reads AnnotationCompletedAt; false when it is absent or not a
// time.
func CompletedAt(annotations map[string]string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, annotations[AnnotationCompletedAt])
	return t, err == nil
}
