package zkclient

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
)

// ErrOpenACL: under ACLCreator, a node on the cluster's path lets someone other
// than this client's identity create, change, delete or re-ACL it. The error is an
// *ACLError naming the nodes.
var ErrOpenACL = errors.New("zkclient: node not private to amkeeper")

// maxReported bounds how many offending nodes one ACLError lists.
const maxReported = 10

// OpenNode is one node whose ACL lets others in.
type OpenNode struct {
	Path string   // the server's path (not chrooted)
	ACL  []zk.ACL // nil when the ACL could not be read (Err says why)
	Err  error    // reading its ACL or listing its children was refused (zk.ErrNoAuth): it is someone else's
}

// ACLError is the refusal of ACLCreator's check: the nodes on the cluster's path
// that others may write to, top-down, at most maxReported of them (More counts the
// rest), and how to fix them. errors.Is(err, ErrOpenACL) holds.
type ACLError struct {
	Nodes   []OpenNode
	More    int
	Servers []string
	Login   string // how to authenticate as amkeeper's identity in zkCli (never a password)
	Root    string // the chroot: below it a recursive fix is safe
}

func (e *ACLError) Unwrap() error { return ErrOpenACL }

// Why a node that is not amkeeper's own cannot be checked (OpenNode.Err).
var (
	errACLUnreadable = fmt.Errorf("its ACL cannot be read: %w", zk.ErrNoAuth)
	errUnlistable    = fmt.Errorf("its children cannot be listed: %w", zk.ErrNoAuth)
)

func (e *ACLError) Error() string {
	var b strings.Builder
	b.WriteString("zkclient: high-availability.zookeeper.client.acl is creator, but ")
	for i, n := range e.Nodes {
		if i > 0 {
			b.WriteString("; ")
		}
		if n.Err != nil {
			fmt.Fprintf(&b, "node %s belongs to someone else (%v)", n.Path, n.Err)
			continue
		}
		fmt.Fprintf(&b, "node %s has ACL %s", n.Path, FormatACL(n.ACL))
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "; and %d more", e.More)
	}
	them := "it"
	if len(e.Nodes)+e.More > 1 {
		them = "them"
	}
	fmt.Fprintf(&b, ": others may create, change or delete nodes there, and amkeeper did not create %s so. ", them)
	fmt.Fprintf(&b, "If you trust what is there, make it amkeeper's: zkCli.sh -server %s, then %s, then %s. ",
		strings.Join(e.Servers, ","), e.Login, strings.Join(e.fixes(false), ", "))
	if del := e.fixes(true); len(del) > 0 {
		fmt.Fprintf(&b, "If not, remove what is below the cluster's node (%s) and start again", strings.Join(del, ", "))
	}
	return strings.TrimSuffix(b.String(), " ")
}

// fixes renders one zkCli command per offending node not already covered by an
// offending ancestor's recursive one: setAcl (-R inside the chroot), or, with
// remove, deleteall for the nodes inside the chroot only. Nothing recursive ever
// reaches above the chroot, where other clusters' nodes live.
func (e *ACLError) fixes(remove bool) []string {
	var out, rec []string
	for _, n := range e.Nodes {
		if slices.ContainsFunc(rec, func(r string) bool { return strings.HasPrefix(n.Path, r+"/") }) {
			continue
		}
		inside := n.Path == e.Root || strings.HasPrefix(n.Path, e.Root+"/")
		switch {
		case remove && inside:
			out = append(out, "deleteall "+n.Path)
			rec = append(rec, n.Path)
		case remove:
		case inside:
			out = append(out, "setAcl -R "+n.Path+" auth::cdrwa")
			rec = append(rec, n.Path)
		default:
			out = append(out, "setAcl "+n.Path+" auth::cdrwa")
		}
	}
	return out
}

// FormatACL renders an ACL as zkCli prints it: scheme:id:perms, comma-separated.
func FormatACL(acl []zk.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = a.Scheme + ":" + a.ID + ":" + formatPerms(a.Perms)
	}
	return strings.Join(parts, ",")
}

func formatPerms(p int32) string {
	var b strings.Builder
	for _, f := range []struct {
		bit int32
		c   byte
	}{{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'}} {
		if p&f.bit != 0 {
			b.WriteByte(f.c)
		}
	}
	return b.String()
}

// openToOthers reports whether acl grants anyone but ours more than read.
func openToOthers(acl, ours []zk.ACL) bool {
	for _, a := range acl {
		if a.Perms&^zk.PermRead == 0 {
			continue
		}
		if !slices.ContainsFunc(ours, func(o zk.ACL) bool { return o.Scheme == a.Scheme && o.ID == a.ID }) {
			return true
		}
	}
	return false
}

// checkChain returns the nodes from cfg.ACLCheckFrom down to the chroot, top-down;
// "/" is never among them.
func (c *Client) checkChain() []string {
	root := c.cfg.Root
	if root == "" {
		return nil
	}
	from := cleanRoot(c.cfg.ACLCheckFrom)
	if from == "" || (root != from && !strings.HasPrefix(root, from+"/")) {
		from = root
	}
	chain := []string{from}
	for p := from; p != root; {
		next := root[len(p)+1:]
		seg, _, _ := strings.Cut(next, "/")
		p = p + "/" + seg
		chain = append(chain, p)
	}
	return chain
}

// guarded reports whether ACLCreator's check covers abs: at or below the top of
// checkChain.
func (c *Client) guarded(abs string) bool {
	if c.cfg.ACL != ACLCreator {
		return false
	}
	chain := c.checkChain()
	if len(chain) == 0 {
		return abs != "/"
	}
	return abs == chain[0] || strings.HasPrefix(abs, chain[0]+"/")
}

// nodeACL reads a node's ACL; found is false when the node does not exist.
func (c *Client) nodeACL(ctx context.Context, abs string) (acl []zk.ACL, found bool, err error) {
	acl, st, err := c.nodeACLStat(ctx, abs)
	return acl, st != nil, err
}

// nodeACLStat reads a node's ACL and stat; the stat is nil when the node does not
// exist.
func (c *Client) nodeACLStat(ctx context.Context, abs string) ([]zk.ACL, *zk.Stat, error) {
	type aclStat struct {
		acl  []zk.ACL
		stat *zk.Stat
	}
	r, err := do(ctx, c, true, "get acl", abs, func() (aclStat, error) {
		acl, st, err := c.conn.GetACL(abs)
		return aclStat{acl, st}, err
	})
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil, nil, nil
	case err != nil:
		return nil, &zk.Stat{}, err
	}
	return r.acl, r.stat, nil
}

// verifyACLs is ACLCreator's check at Connect: every existing node from
// ACLCheckFrom down to the chroot, and every node below the chroot, must grant
// nobody but this client's identity more than read. It reads only; on refusal
// nothing has been created.
func (c *Client) verifyACLs(ctx context.Context) error {
	bad := &ACLError{Servers: c.cfg.Servers, Login: c.login, Root: c.cfg.Root}
	record := func(n OpenNode) {
		if len(bad.Nodes) < maxReported {
			bad.Nodes = append(bad.Nodes, n)
		} else {
			bad.More++
		}
	}
	// check reads one node's ACL and records it if open; exists is false when the
	// node is not there.
	check := func(abs string) (exists bool, err error) {
		acl, found, err := c.nodeACL(ctx, abs)
		switch {
		case errors.Is(err, zk.ErrNoAuth):
			record(OpenNode{Path: abs, Err: errACLUnreadable})
			return true, nil
		case err != nil:
			return false, fmt.Errorf("zkclient: check the ACL of %s: %w", abs, err)
		case found && openToOthers(acl, c.ours):
			record(OpenNode{Path: abs, ACL: acl})
		}
		return found, nil
	}
	for _, abs := range c.checkChain() {
		found, err := check(abs)
		if err != nil {
			return err
		}
		if !found {
			return bad.orNil() // nothing below exists: Connect creates it, ours
		}
	}
	// Below the chroot, level by level, each level's nodes read concurrently
	// (go-zookeeper pipelines them on the one connection): a cluster with
	// thousands of pointers and locks is checked in a few round trips per level.
	top := c.cfg.Root
	if top == "" {
		top = "/"
	}
	level := []string{top}
	for len(level) > 0 {
		found := make([]walked, len(level))
		sem := make(chan struct{}, walkConcurrency)
		var wg sync.WaitGroup
		for i, dir := range level {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				found[i] = c.walkOne(ctx, dir, dir == top)
			}()
		}
		wg.Wait()
		level = level[:0:0]
		for _, w := range found {
			if w.err != nil {
				return w.err
			}
			if w.open != nil {
				record(*w.open)
			}
			level = append(level, w.children...)
		}
	}
	return bad.orNil()
}

// walkConcurrency bounds the reads verifyACLs has in flight.
const walkConcurrency = 64

// walked is what walkOne learned about one node.
type walked struct {
	open     *OpenNode // the node is open to others
	children []string  // its children's paths, sorted ("" when it could not be listed)
	err      error
}

// walkOne checks one node's ACL (unless it is the already checked top) and lists
// its children. A node gone meanwhile has nothing to check; a node whose ACL or
// children amkeeper may not read is someone else's.
func (c *Client) walkOne(ctx context.Context, abs string, top bool) walked {
	var w walked
	if !top {
		acl, st, err := c.nodeACLStat(ctx, abs)
		switch {
		case errors.Is(err, zk.ErrNoAuth):
			return walked{open: &OpenNode{Path: abs, Err: errACLUnreadable}}
		case err != nil:
			return walked{err: fmt.Errorf("zkclient: check the ACL of %s: %w", abs, err)}
		case st == nil:
			return w
		case openToOthers(acl, c.ours):
			w.open = &OpenNode{Path: abs, ACL: acl}
		}
		if st.NumChildren == 0 {
			return w // a leaf (most nodes: pointers, locks, latch nodes): no listing
		}
	}
	names, err := do(ctx, c, true, "children", abs, func() ([]string, error) {
		names, _, err := c.conn.Children(abs)
		return names, err
	})
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return w
	case errors.Is(err, zk.ErrNoAuth):
		// What is below a node we may not list cannot be checked: someone else
		// decides who reads it, and it may hide a node open to all.
		return walked{open: &OpenNode{Path: abs, Err: errUnlistable}}
	case err != nil:
		return walked{err: fmt.Errorf("zkclient: check the ACLs below %s: %w", abs, err)}
	}
	slices.Sort(names)
	for _, name := range names {
		if child := path.Join(abs, name); child != "/zookeeper" { // the server's own
			w.children = append(w.children, child)
		}
	}
	return w
}

func (e *ACLError) orNil() error {
	if len(e.Nodes) == 0 {
		return nil
	}
	return e
}

// checkCreatedByOthers is ACLCreator's check of a node this client meant to
// create and found already there: someone created it between the check at Connect
// and now.
func (c *Client) checkCreatedByOthers(ctx context.Context, abs string) error {
	acl, found, err := c.nodeACL(ctx, abs)
	bad := &ACLError{Servers: c.cfg.Servers, Login: c.login, Root: c.cfg.Root}
	switch {
	case errors.Is(err, zk.ErrNoAuth):
		bad.Nodes = []OpenNode{{Path: abs, Err: errACLUnreadable}}
		return bad
	case err != nil:
		return fmt.Errorf("zkclient: check the ACL of %s: %w", abs, err)
	case found && openToOthers(acl, c.ours):
		bad.Nodes = []OpenNode{{Path: abs, ACL: acl}}
		return bad
	}
	return nil
}

// saslOwners are the ACL entries a client authenticated with SASL as identity
// owns: nodes made with ZooKeeper's "auth" ACL carry one per identity of the
// connection, sasl:<identity> exactly (for Kerberos the full principal,
// user@REALM, as ZooKeeper records it unless its server drops realms; a shorter
// name could be another SASL user's) and, over TLS with a client certificate,
// x509:<its subject>.
func saslOwners(identity, cert string) []zk.ACL {
	ours := []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: identity}}
	if cert != "" {
		ours = append(ours, zk.ACL{Perms: zk.PermAll, Scheme: "x509", ID: cert})
	}
	return ours
}

func (c *Client) digestUser() string {
	user, _, _ := strings.Cut(c.cfg.Digest, ":")
	return user
}
