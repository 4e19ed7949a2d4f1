package cluster

import (
	"context"
	"fmt"
	"time"
)

// Stop stops the named processes of the cluster (etcd, kube-apiserver,
// vela-core, ...) and keeps them in its state, so that Start brings them
// back with the same command line: the faults the end-to-end tests inject.
// While one is stopped the cluster is not healthy, and an Up in between
// would replace it.
func (c *Cluster) Stop(names ...string) error {
	l := layout{dir: c.Dir}
	s, unlock, err := l.lockedState()
	if err != nil {
		return err
	}
	defer unlock()
	var stopped []Process
	for _, name := range names {
		p, ok := s.process(name)
		if !ok {
			return fmt.Errorf("the cluster in %s has no process %q", l.dir, name)
		}
		stopped = append(stopped, p)
	}
	return stopProcesses(stopped, 15*time.Second)
}

// Start starts the named processes again, in the order given, each with the
// command line it was first started with, and waits until each is ready
// (etcd, kube-apiserver and vela-core by their health endpoints) before the
// next one. A process that still runs is left alone.
func (c *Cluster) Start(ctx context.Context, names ...string) error {
	l := layout{dir: c.Dir}
	s, unlock, err := l.lockedState()
	if err != nil {
		return err
	}
	defer unlock()
	for _, name := range names {
		old, ok := s.process(name)
		if !ok {
			return fmt.Errorf("the cluster in %s has no process %q", l.dir, name)
		}
		if old.isAlive() {
			continue
		}
		if old.Program == "" {
			return fmt.Errorf("%s was not started by the cluster: its command line is not recorded", name)
		}
		p, err := startDetached(name, old.Log, old.Env, old.Program, old.Args...)
		if err != nil {
			return err
		}
		s.replace(p)
		if err := l.writeState(s); err != nil {
			return err
		}
		if err := waitReady(ctx, l, s, p); err != nil {
			return err
		}
	}
	return nil
}

// Process is the named process the cluster started, as its state records
// it now (after a Start, the new one).
func (c *Cluster) Process(name string) (Process, error) {
	l := layout{dir: c.Dir}
	s, err := l.readState()
	if err != nil {
		return Process{}, fmt.Errorf("read the state of the cluster in %s: %w", l.dir, err)
	}
	p, ok := s.process(name)
	if !ok {
		return Process{}, fmt.Errorf("the cluster in %s has no process %q", l.dir, name)
	}
	return p, nil
}

// waitReady waits until a restarted process serves; programs without a
// health endpoint count as ready once started.
func waitReady(ctx context.Context, l layout, s state, p Process) error {
	switch p.Name {
	case "etcd":
		return waitEtcd(ctx, s.Ports, p)
	case "kube-apiserver":
		clients, err := l.adminClients()
		if err != nil {
			return err
		}
		return waitAPIServer(ctx, clients, p)
	case "vela-core":
		return waitVelaCore(ctx, s.Ports, p)
	}
	return nil
}

// lockedState takes the cluster's lock and reads its state; the caller
// unlocks.
func (l layout) lockedState() (state, func(), error) {
	unlock, err := l.lock()
	if err != nil {
		return state{}, nil, err
	}
	s, err := l.readState()
	if err != nil {
		unlock()
		return state{}, nil, fmt.Errorf("read the state of the cluster in %s: %w", l.dir, err)
	}
	return s, unlock, nil
}

// process finds a process the cluster started (not an adopted one) by name.
func (s state) process(name string) (Process, bool) {
	for _, p := range s.Processes {
		if p.Name == name && !p.Adopted {
			return p, true
		}
	}
	return Process{}, false
}

func (s *state) replace(p Process) {
	for i := range s.Processes {
		if s.Processes[i].Name == p.Name && !s.Processes[i].Adopted {
			s.Processes[i] = p
		}
	}
}
