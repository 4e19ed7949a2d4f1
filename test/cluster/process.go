package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one program of the control plane that this package started.
// PID and StartTime together identify it: a PID alone may have been reused
// by an unrelated program after a crash or a reboot, so nothing is signalled
// unless the start time recorded in /proc still matches.
type Process struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // field 22 of /proc/<pid>/stat, in clock ticks since boot
	Log       string `json:"log,omitempty"`
	// Adopted marks a process started by someone else for this cluster
	// (see Adopt): stopped with the cluster, but not part of its health.
	Adopted bool `json:"adopted,omitempty"`
	// Program, Args and Env (what is added to the environment) are the
	// command line, kept so that Start can run it again.
	Program string   `json:"program,omitempty"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`
}

// startDetached starts a program in its own session (setsid), so it outlives
// the caller (make, go test) and its process group can be signalled as one.
// stdin is /dev/null and stdout/stderr go straight to the log file: a child
// holding the caller's pipes would make `go test` wait for it forever.
func startDetached(name, logPath string, added []string, program string, args ...string) (Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Process{}, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "### %s %s %s\n", time.Now().Format(time.RFC3339), program, strings.Join(args, " "))

	cmd := exec.Command(program, args...)
	cmd.Env = append(os.Environ(), added...) // exec: the last value of a variable wins
	cmd.Stdin = nil                          // /dev/null
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("start %s: %w", name, err)
	}
	// Reap the child if it exits while we are still running (tests call Up
	// and Down in one process); otherwise it would linger as a zombie and
	// look alive to isAlive.
	go func() { _ = cmd.Wait() }()

	startTime, err := processStartTime(cmd.Process.Pid)
	if err != nil {
		return Process{}, fmt.Errorf("read start time of %s (pid %d): %w", name, cmd.Process.Pid, err)
	}
	return Process{Name: name, PID: cmd.Process.Pid, StartTime: startTime, Log: logPath,
		Program: program, Args: args, Env: added}, nil
}

// processStartTime reads the start time of a process from /proc/<pid>/stat.
func processStartTime(pid int) (uint64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStartTime(string(stat))
}

// parseStartTime extracts field 22 (starttime) of a /proc/<pid>/stat line.
// The command name (field 2) is in parentheses and may contain spaces, so
// fields are counted from the last ')'.
func parseStartTime(stat string) (uint64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("malformed /proc stat: no ')'")
	}
	fields := strings.Fields(stat[end+1:])
	const startTimeIndex = 22 - 3 // fields after ')' begin at field 3 (state)
	if len(fields) <= startTimeIndex {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the name", len(fields))
	}
	return strconv.ParseUint(fields[startTimeIndex], 10, 64)
}

// processState returns the one-letter state of a process (R, S, Z, ...).
func processState(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	end := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat)[end+1:])
	if end < 0 || len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// isAlive reports whether the process we started is still running (a zombie
// counts as gone: it has exited and only waits to be reaped).
func (p Process) isAlive() bool {
	startTime, err := processStartTime(p.PID)
	if err != nil || startTime != p.StartTime {
		return false
	}
	return processState(p.PID) != "Z"
}

// stopProcesses sends SIGTERM to the process group of each still-running
// process, waits up to grace for all of them to exit, then sends SIGKILL to
// the groups that are left. Processes that are already gone, or whose PID now
// belongs to another program, are skipped.
func stopProcesses(processes []Process, grace time.Duration) error {
	var running []Process
	for _, p := range processes {
		if p.isAlive() {
			running = append(running, p)
		}
	}
	for _, p := range running {
		// setsid made each process the leader of its own group: -PID
		// reaches it and anything it spawned.
		if err := syscall.Kill(-p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
		}
	}
	deadline := time.Now().Add(grace)
	for len(running) > 0 {
		var left []Process
		for _, p := range running {
			if p.isAlive() {
				left = append(left, p)
			}
		}
		running = left
		if len(running) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var errs []error
	for _, p := range running {
		if err := syscall.Kill(-p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %s (pid %d): %w", p.Name, p.PID, err))
		}
	}
	for _, p := range running {
		for i := 0; i < 50 && p.isAlive(); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if p.isAlive() {
			errs = append(errs, fmt.Errorf("%s (pid %d) still runs after SIGKILL", p.Name, p.PID))
		}
	}
	return errors.Join(errs...)
}
