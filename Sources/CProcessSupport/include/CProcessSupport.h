#ifndef CPROCESSSUPPORT_H
#define CPROCESSSUPPORT_H

#include <sys/types.h>

/// What a job's process gets besides its argv, env, cwd and fds (`jobsd_spawn`), all applied in
/// the child before execve, so the command never runs without them.
struct jobsd_spawn_options {
    /// An open cgroup v2 directory the child starts in (clone3 CLONE_INTO_CGROUP); < 0: this
    /// process's cgroup.
    int cgroup_fd;
    /// Open (O_WRONLY) `cgroup.procs` files of cgroup v1 controllers: the child writes "0" (itself)
    /// to each, first thing.
    int v1_procs_fds[4];
    int v1_procs_count;
    /// setrlimit(resource, {value, hard}) for each.
    int rlimit_resources[4];
    unsigned long long rlimit_soft[4];
    unsigned long long rlimit_hard[4];
    int rlimit_count;
    /// When set: setgroups(groups), setresgid(gid), setresuid(uid) — after the working directory
    /// is entered, before execve.
    int set_user;
    unsigned int uid, gid;
    const unsigned int *groups;
    int group_count;
};

/// Spawns `path` with `argv`/`envp` in a new session (and so its own process group), with every
/// signal at its default action and an empty signal mask, cwd `cwd`, `in_fd`/`out_fd`/`err_fd` as
/// fds 0/1/2 and every other fd closed — straight into the cgroup `options->cgroup_fd` (an open
/// cgroup v2 directory) through clone3(CLONE_INTO_CGROUP), so no code of the child runs anywhere
/// else, with the v1 cgroups, rlimits and user of `options` (NULL: none). A vfork-style child
/// (CLONE_VM | CLONE_VFORK, like posix_spawn) that makes raw system calls only: this thread
/// sleeps until it has exec'd. Returns 0 and stores the pid, or an errno value (exec and setup
/// errors included; the failed child is reaped here).
int jobsd_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const char *cwd, int in_fd, int out_fd, int err_fd, const struct jobsd_spawn_options *options);

/// Starts a child in the cgroup `cgroup_fd` that exits at once, and reaps it: 0 when jobsd can
/// spawn into that cgroup, else the errno of clone3 (ENOSYS: not on this architecture or kernel,
/// EACCES/EPERM: not allowed, EBUSY: a domain cgroup with controllers, …).
int jobsd_cgroup_probe(int cgroup_fd);

/// Messages of a per-job subreaper on its status pipe: two ints, {kind, value}.
enum {
    /// value: the pid of the job's main process (the subreaper's child, in its own session).
    JOBSD_SUBREAPER_STARTED = 1,
    /// value: the errno of the failed exec; the subreaper exits 127.
    JOBSD_SUBREAPER_FAILED = 2,
    /// value: the main process's raw wait status.
    JOBSD_SUBREAPER_EXITED = 3,
    /// value: how many processes outside the main process's group a SIGUSR1 reached.
    JOBSD_SUBREAPER_ESCAPED = 4,
};

/// Forks (not execs) a per-job subreaper: a process of its own session that is
/// PR_SET_CHILD_SUBREAPER and spawns `path` as its only child, like `jobsd_spawn` (new session,
/// default signals, fds 0–2), so that every descendant of the job — also one that called setsid
/// and whose parent died — stays below it. It writes its messages to `status_fd` (its only other
/// fd); SIGUSR1 (si_value: a process group to spare, 0 none) makes it send SIGTERM to every
/// descendant, SIGUSR2 makes it SIGKILL every descendant every 10 ms until none is left. It exits
/// 0 once the main process has exited and no descendant is left (127 when the exec failed). It
/// outlives jobsd (no death signal), so a restarted jobsd can still stop the tree through it.
/// Returns 0 and the subreaper's pid, or an errno value.
/// `options` (NULL: none) apply to the command as in `jobsd_spawn`, except the cgroups (the
/// caller passes none).
int jobsd_spawn_subreaper(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                          const char *cwd, int in_fd, int out_fd, int err_fd, int status_fd,
                          const struct jobsd_spawn_options *options);

/// pidfd_open(pid, 0): an fd naming that process (never a later one with the same pid). -1 with
/// errno set.
int jobsd_pidfd_open(pid_t pid);

/// Sends `sig` with si_value `value` (as sigqueue does) to the process named by `pidfd`. 0 or -1
/// with errno set.
int jobsd_pidfd_signal(int pidfd, int sig, int value);

/// 1 when the process named by `pidfd` has exited (its pidfd is readable), else 0.
int jobsd_pidfd_exited(int pidfd);

/// prctl(PR_SET_CHILD_SUBREAPER, 1) (prctl is C-variadic). Returns 0 or an errno value.
int jobsd_set_child_subreaper(void);

/// pipe2(fds, O_CLOEXEC). Returns 0 or -1 with errno set.
int jobsd_pipe_cloexec(int fds[2]);

/// memfd_create(name, MFD_CLOEXEC). Returns the fd or -1 with errno set.
int jobsd_memfd(const char *name);

/// waitid(P_ALL, 0, &info, WEXITED | WNOWAIT): the pid of a child that has exited, left
/// unreaped; -1 with errno set (ECHILD: no children).
pid_t jobsd_wait_any_nowait(void);

/// The WEXITSTATUS / WIFEXITED / WIFSIGNALED / WTERMSIG macros.
int jobsd_wifexited(int status);
int jobsd_wexitstatus(int status);
int jobsd_wifsignaled(int status);
int jobsd_wtermsig(int status);

/// epoll_create1(EPOLL_CLOEXEC). Returns the fd or -1 with errno set.
int jobsd_epoll_create(void);

/// Adds `fd` to `epfd` for input (level-triggered), reported with `token`. 0 or -1 with errno.
int jobsd_epoll_add(int epfd, int fd, unsigned long long token);

/// Removes `fd` from `epfd`. 0 or -1 with errno.
int jobsd_epoll_del(int epfd, int fd);

/// epoll_wait into `tokens` (at most `max`), blocking up to `timeout_ms` (-1: no limit).
/// Returns how many were stored, or -1 with errno set (struct epoll_event is packed on
/// x86_64, so it stays on this side).
int jobsd_epoll_wait(int epfd, unsigned long long *tokens, int max, int timeout_ms);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK). Returns the fd or -1 with errno set.
int jobsd_eventfd(void);

#endif
