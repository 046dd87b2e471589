#define _GNU_SOURCE
#include "CProcessSupport.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int jobsd_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno;
}

int jobsd_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int jobsd_pidfd_signal(int pidfd, int sig, int value) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = value;
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, &info, 0);
}

int jobsd_pidfd_exited(int pidfd) {
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) ? 1 : 0;
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
