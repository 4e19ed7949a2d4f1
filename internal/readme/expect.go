package readme

import (
	"fmt"
	"regexp"
	"strings"
)

// Clause is one checked fact of an expect comment:
//
//	application <name> <phase>          status.status of the Application
//	deployment <name> <ready>/<desired> or deployment <name> absent
//	traffic <virtualservice> <subset>=<weight>[,<subset>=<weight>...]
type Clause struct {
	Kind string
	Name string
	Want string
}

// Clause kinds.
const (
	KindApplication = "application"
	KindDeployment  = "deployment"
	KindTraffic     = "traffic"
)

var (
	instancesRe = regexp.MustCompile(`^(\d+/\d+|absent)$`)
	trafficRe   = regexp.MustCompile(`^[a-z0-9-]+=\d+(,[a-z0-9-]+=\d+)*$`)
)

// ParseExpect parses the text of an expect comment: clauses separated by ";".
func ParseExpect(text string) ([]Clause, error) {
	var out []Clause
	for _, part := range strings.Split(text, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("expect clause %q: want <kind> <name> <value>", strings.TrimSpace(part))
		}
		c := Clause{Kind: f[0], Name: f[1], Want: f[2]}
		switch {
		case c.Kind == KindApplication:
		case c.Kind == KindDeployment && instancesRe.MatchString(c.Want):
		case c.Kind == KindTraffic && trafficRe.MatchString(c.Want):
		default:
			return nil, fmt.Errorf("expect clause %q: want application <name> <phase>, deployment <name> <ready>/<desired>|absent, or traffic <name> <subset>=<weight>[,<subset>=<weight>]", strings.TrimSpace(part))
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("expect comment %q has no clause", text)
	}
	return out, nil
}

// String renders the clause as it is written.
func (c Clause) String() string { return c.Kind + " " + c.Name + " " + c.Want }
