package docgen

import (
	"errors"
	"fmt"
	"strings"
)

// Markers delimit the generated section of README.md.
const (
	BeginMarker = "<!-- BEGIN GENERATED REFERENCE: `make docs` writes this section from definitions/*.cue and parameter.cue; do not edit by hand -->"
	EndMarker   = "<!-- END GENERATED REFERENCE -->"
)

// errNoSection is returned when a document lacks the markers.
var errNoSection = errors.New("no generated section: add the begin and end markers of docgen to the document")

// Section returns the text between the markers.
func Section(doc string) (string, error) {
	start, end, err := bounds(doc)
	if err != nil {
		return "", err
	}
	return doc[start:end], nil
}

// Replace puts generated between the markers.
func Replace(doc, generated string) (string, error) {
	start, end, err := bounds(doc)
	if err != nil {
		return "", err
	}
	return doc[:start] + "\n" + strings.TrimSpace(generated) + "\n" + doc[end:], nil
}

// bounds returns where the section's content starts and ends.
func bounds(doc string) (int, int, error) {
	b := strings.Index(doc, BeginMarker)
	e := strings.Index(doc, EndMarker)
	switch {
	case b < 0 || e < 0:
		return 0, 0, errNoSection
	case strings.Count(doc, BeginMarker) > 1 || strings.Count(doc, EndMarker) > 1:
		return 0, 0, fmt.Errorf("the generated section's markers appear more than once")
	case e < b:
		return 0, 0, fmt.Errorf("the end marker of the generated section comes before its begin marker")
	}
	return b + len(BeginMarker), e, nil
}
