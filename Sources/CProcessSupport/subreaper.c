#define _GNU_SOURCE
#include "CProcessSupport.h"
#include "spawn_internal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The per-job subreaper (containment without cgroups): a forked — not exec'd — copy of jobsd
// that is PR_SET_CHILD_SUBREAPER, runs the job's command as its child, and so holds every
// descendant of the job: an orphan is re-parented to the nearest subreaper ancestor, which is this
// process, never jobsd. It runs only raw system calls (it is the child of a multi-threaded
// process: no malloc, no locks), on its own copy of memory.
//
// It talks to jobsd through `status_fd` (8-byte messages, see CProcessSupport.h) and listens for
// SIGUSR1 (SIGTERM to the tree) and SIGUSR2 (SIGKILL to the tree until it is empty). It exits
// once the command has exited and it has no child left — then the job's tree is empty.

static void send_message(int fd, int kind, int value) {
    int message[2] = {kind, value};
    ssize_t n;
    do { n = write(fd, message, sizeof message); } while (n < 0 && errno == EINTR);
}

// MARK: - Walking the descendants

#define MAX_TREE 65536
static pid_t tree[MAX_TREE];  // the subreaper's own copy (it is a forked child)

static int parse_pids(const char *text, long n, pid_t *out, int room) {
    int count = 0;
    pid_t value = 0;
    for (long i = 0; i < n; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            value = value * 10 + (c - '0');
        } else if (value > 0) {
            if (count < room) out[count++] = value;
            value = 0;
        }
    }
    if (value > 0 && count < room) out[count++] = value;
    return count;
}

static char *put_number(char *p, long value) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + value % 10); value /= 10; } while (value > 0);
    while (n > 0) *p++ = digits[--n];
    return p;
}

/// Appends the children of every thread of `pid` (/proc/<pid>/task/<tid>/children) to `tree`.
static int add_children(pid_t pid, int count) {
    char path[64], *p = path;
    memcpy(p, "/proc/", 6); p += 6;
    p = put_number(p, pid);
    memcpy(p, "/task", 6);
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return count;
    char entries[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0) {
        for (long at = 0; at < n;) {
            struct dirent64 *entry = (struct dirent64 *)(entries + at);
            at += entry->d_reclen;
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            char file[96], *q = file;
            size_t len = strlen(path);
            memcpy(q, path, len); q += len;
            *q++ = '/';
            size_t tid = strlen(entry->d_name);
            memcpy(q, entry->d_name, tid); q += tid;
            memcpy(q, "/children", 10);
            int fd = open(file, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            char text[8192];
            long got = read(fd, text, sizeof text);
            close(fd);
            if (got > 0) count += parse_pids(text, got, tree + count, MAX_TREE - count);
        }
    }
    close(dir);
    return count;
}

/// Every descendant of this process, parents before their children.
static int descendants(void) {
    int count = add_children(getpid(), 0);
    for (int i = 0; i < count && count < MAX_TREE; i++) count = add_children(tree[i], count);
    return count;
}

// MARK: - The subreaper

static void reap(int status_fd, pid_t main_pid, int *main_done) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
        if (pid == main_pid) {
            *main_done = 1;
            send_message(status_fd, JOBSD_SUBREAPER_EXITED, status);
        }
    }
}

static int has_children(void) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0;
}

static void subreaper_main(struct jobsd_exec_request *request, int status_fd) {
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    prctl(PR_SET_NAME, "jobsd-subreaper", 0, 0, 0);
    setsid();
    jobsd_reset_signal_dispositions();
    // Signals stay blocked (as the parent left them): the three below are taken with sigtimedwait.
    // fds 0–2 for the command, 3 for the messages, nothing else (jobsd's sockets, database…).
    int moved[4];
    int wanted[4] = {request->fds[0], request->fds[1], request->fds[2], status_fd};
    for (int i = 0; i < 4; i++) moved[i] = fcntl(wanted[i], F_DUPFD_CLOEXEC, 64);
    for (int i = 0; i < 4; i++) dup2(moved[i], i);
    syscall(SYS_close_range, 4, ~0U, 0);
    status_fd = 3;
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);

    struct jobsd_exec_request command = *request;
    command.fds[0] = 0; command.fds[1] = 1; command.fds[2] = 2;
    pid_t main_pid;
    int rc = jobsd_exec_in_child(&command, -1, &main_pid);
    if (rc != 0) {
        send_message(status_fd, JOBSD_SUBREAPER_FAILED, rc);
        _exit(127);
    }
    send_message(status_fd, JOBSD_SUBREAPER_STARTED, main_pid);
    close(0); close(1); close(2);

    sigset_t wanted_signals;
    sigemptyset(&wanted_signals);
    sigaddset(&wanted_signals, SIGCHLD);
    sigaddset(&wanted_signals, SIGUSR1);
    sigaddset(&wanted_signals, SIGUSR2);
    int main_done = 0, killing = 0;
    for (;;) {
        reap(status_fd, main_pid, &main_done);
        if (main_done && !has_children()) _exit(0);
        if (killing) {
            int count = descendants();
            for (int i = 0; i < count; i++) kill(tree[i], SIGKILL);
        }
        struct timespec round = {0, 10 * 1000 * 1000};
        siginfo_t info;
        int sig = sigtimedwait(&wanted_signals, &info, killing ? &round : NULL);
        if (sig == SIGUSR1) {
            pid_t spared = (pid_t)info.si_value.sival_int;
            int count = descendants(), escaped = 0;
            for (int i = 0; i < count; i++) {
                pid_t group = getpgid(tree[i]);
                if (group < 0 || (spared > 0 && group == spared)) continue;
                if (kill(tree[i], SIGTERM) == 0 && group != main_pid) escaped++;
            }
            if (escaped > 0) send_message(status_fd, JOBSD_SUBREAPER_ESCAPED, escaped);
        } else if (sig == SIGUSR2) {
            killing = 1;
        }
    }
}

int jobsd_spawn_subreaper(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                          const char *cwd, int in_fd, int out_fd, int err_fd, int status_fd,
                          const struct jobsd_spawn_options *options) {
    struct jobsd_exec_request request = {
        .path = path, .argv = argv, .envp = envp, .cwd = cwd, .fds = {in_fd, out_fd, err_fd}, .options = options,
    };
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    // A plain fork by the raw system call: glibc's fork() would run atfork handlers; the child
    // needs none of them, as it never returns into jobsd's code.
    long rc = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (rc == 0) subreaper_main(&request, status_fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) return errno;
    *pid = (pid_t)rc;
    return 0;
}
