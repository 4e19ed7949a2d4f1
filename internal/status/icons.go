package status

func appIcon(phase string) (string, style) {
	switch phase {
	case AppRunning:
		return "✔", green
	case AppWorkflowSuspending:
		return "॥", yellow
	case AppWorkflowFailed, AppWorkflowTerminated:
		return "✖", red
	case AppUnhealthy:
		return "⚠", yellow
	default:
		return "◌", blue
	}
}

func stepIcon(phase string) string {
	switch phase {
	case "succeeded":
		return "✔"
	case "failed":
		return "✖"
	case "suspending":
		return "॥"
	case "running":
		return "◌"
	case "skipped":
		return "⊘"
	default:
		return "○"
	}
}

func stepStyle(phase string) style {
	switch phase {
	case "succeeded":
		return green
	case "failed":
		return red
	case "suspending":
		return yellow
	case "running":
		return blue
	default:
		return dim
	}
}

func actionStyle(k ActionKind) style {
	switch k {
	case ActionDone:
		return green
	case ActionSuspended, ActionUnhealthy, ActionDecide, ActionAborting:
		return yellow
	case ActionFailed, ActionTerminated, ActionNone, ActionAborted:
		return red
	default:
		return blue
	}
}

func roleStyle(r Role) style {
	switch r {
	case RoleStable:
		return blue
	case RoleCanary:
		return yellow
	default:
		return cyan
	}
}
