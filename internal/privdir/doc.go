// Package privdir decides whether a local directory is private to the current
// user before amkeeper creates a file in it or connects to a socket in it: the
// per-user directory that holds every session (Home), each application's
// directory, and the socket directory a long application path falls back to.
//
// # What it guarantees
//
//   - A directory amkeeper owns (the last component of a path given to Ensure or
//     Check) is accepted only when lstat shows a real directory (not a symlink)
//     owned by the current uid with no group or other write permission.
//   - Every directory above it is accepted only when it is owned by root or the
//     current uid and, when group or others may write to it, has the sticky bit
//     (as /tmp), so nobody else can rename or replace the entries below it. A
//     symlink on the way is followed only when root or the current uid owns it,
//     and the directories it leads to pass the same rule.
//   - Ensure creates what is missing with mode 0700 and checks each directory it
//     created, so a directory another user made first is refused, not adopted.
//   - A refusal is an *Error (errors.Is(err, ErrUntrusted)) naming the path, what
//     is wrong (owner uid, mode, symlink) and how to fix it.
//   - CheckSocket accepts a unix socket only inside a directory Check accepts and
//     owned by the current uid.
//
// # What it does not guarantee
//
//   - Protection against root or the current user: both may change any of these
//     directories at any time.
//   - Freedom from races with the owner of a trusted parent: the checks run before
//     each use, not under a lock.
package privdir
