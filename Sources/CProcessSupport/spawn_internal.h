#ifndef JOBSD_SPAWN_INTERNAL_H
#define JOBSD_SPAWN_INTERNAL_H

#include <sys/types.h>
#include "CProcessSupport.h"

/// What the child of `jobsd_exec_in_child` execs. `fds[i]` becomes fd i.
/// `error` is set by the child when it could not exec (shared memory: it is a vfork child).
struct jobsd_exec_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int fds[3];
    /// Cgroups, rlimits and user; NULL: none.
    const struct jobsd_spawn_options *options;
    volatile int error;
};

/// Runs `fn(arg)` in a CLONE_VM | CLONE_VFORK child on a stack of its own, in the cgroup
/// `cgroup_fd` (< 0: the caller's), reporting `exit_signal` to the parent. Returns the pid or
/// -errno.
long jobsd_clone_vfork(void (*fn)(void *), void *arg, int cgroup_fd, int exit_signal);

/// Execs `request` in a new session (see `jobsd_spawn`). 0 and the pid, or an errno value (the
/// failed child is reaped here).
int jobsd_exec_in_child(struct jobsd_exec_request *request, int cgroup_fd, pid_t *pid);

/// Every signal (but SIGKILL and SIGSTOP) back to SIG_DFL, through the kernel's rt_sigaction
/// (glibc's refuses its two internal signals). Raw system calls only: for vfork-style children.
void jobsd_reset_signal_dispositions(void);

#endif
