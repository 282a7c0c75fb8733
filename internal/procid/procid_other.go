//go:build !linux

package procid

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

var errUnsupported = errors.New("procid: process identities need Linux")

// Of fails outside Linux.
func Of(pid int) (Identity, error) { return Identity{}, errUnsupported }

// Verify treats every process as gone outside Linux.
func Verify(id Identity) error { return fmt.Errorf("%w: %w", errUnsupported, ErrNotRunning) }

// BootID fails outside Linux.
func BootID() (string, error) { return "", errUnsupported }

// Process is unavailable outside Linux.
type Process struct{ id Identity }

// Open fails outside Linux.
func Open(id Identity) (*Process, error) { return nil, Verify(id) }

// Identity returns the process's identity.
func (p *Process) Identity() Identity { return p.id }

// Signal fails outside Linux.
func (p *Process) Signal(sig syscall.Signal) error { return errUnsupported }

// Wait fails outside Linux.
func (p *Process) Wait(ctx context.Context) error { return errUnsupported }

// Close does nothing outside Linux.
func (p *Process) Close() error { return nil }

// Find finds nothing outside Linux.
func Find(match func(args []string) bool) ([]Identity, error) { return nil, nil }
