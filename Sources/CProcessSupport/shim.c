#define _GNU_SOURCE
#include "CProcessSupport.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

/// The exit of a child raises SIGCHLD, aimed at the thread that spawned it. With the default
/// disposition (ignore) the kernel drops it at once — unless that thread blocks it (threads of
/// the Swift concurrency pool do): then it is queued for the process and wakes a thread that
/// does not (libdispatch's main thread, asleep in sigsuspend), only to be discarded. One wasted
/// wake-up per job; exits reach the reaper through waitid, never through the signal. So the
/// spawning thread leaves SIGCHLD unblocked (once per thread). A handler someone installs for
/// SIGCHLD may then run on such a thread, which is fine for any async-signal-safe handler.
static void unblock_child_exit_signal(void) {
    static __thread int done;
    if (done) return;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    done = pthread_sigmask(SIG_UNBLOCK, &chld, NULL) == 0;
}

int jobsd_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const char *cwd, int in_fd, int out_fd, int err_fd) {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    sigset_t all, none;
    int rc;

    unblock_child_exit_signal();
    if ((rc = posix_spawnattr_init(&attr)) != 0) return rc;
    if ((rc = posix_spawn_file_actions_init(&actions)) != 0) {
        posix_spawnattr_destroy(&attr);
        return rc;
    }
    sigfillset(&all);
    sigemptyset(&none);
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0 && cwd != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int jobsd_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno;
}

int jobsd_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int jobsd_wifexited(int status) { return WIFEXITED(status); }
int jobsd_wexitstatus(int status) { return WEXITSTATUS(status); }
int jobsd_wifsignaled(int status) { return WIFSIGNALED(status); }
int jobsd_wtermsig(int status) { return WTERMSIG(status); }

pid_t jobsd_wait_any_nowait(void) {
    siginfo_t info;
    info.si_pid = 0;
    if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) return -1;
    return info.si_pid;
}

int jobsd_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int jobsd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int jobsd_epoll_add(int epfd, int fd, unsigned long long token) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = token};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int jobsd_epoll_del(int epfd, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

int jobsd_epoll_wait(int epfd, unsigned long long *tokens, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

int jobsd_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
