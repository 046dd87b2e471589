// jobsd-clone-fault ARMED_FILE -- COMMAND [ARG...]
//
// A test helper (issue #22, the ENOMEM row of docs/faults.md): runs COMMAND (exec'd, so it keeps
// this process's pid) under a seccomp filter whose user notifications a forked supervisor
// answers. While ARMED_FILE exists, every system call by which COMMAND's own process creates a
// process — clone3 or clone without CLONE_THREAD, fork, vfork — fails with ENOMEM, the errno
// clone(2) gives when the kernel cannot allocate the child's task structure. Threads are always
// created, and processes made by COMMAND's descendants (a job's shell forking) always run: each
// such call continues as if no filter were there.
//
// jobsd spawns with a raw clone3 (Sources/CProcessSupport/spawn.c) that libfiu cannot reach, and
// no real shortage refuses only that call (see docs/faults.md): this is how the test makes the
// kernel answer ENOMEM to exactly the spawn.
//
// The supervisor is unfiltered (forked before the filter is installed) and ends when no filtered
// process is left (the listener reports POLLHUP) or its parent dies.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define FILTER_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FILTER_ARCH AUDIT_ARCH_AARCH64
#else
#error "jobsd-clone-fault: unsupported architecture"
#endif

static void die(const char *what) {
    fprintf(stderr, "jobsd-clone-fault: %s: %s\n", what, strerror(errno));
    exit(125);
}

/// clone3 and every process-making clone/fork/vfork go to the supervisor; clone with
/// CLONE_THREAD and everything else is allowed at once.
static int install_filter(void) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 6, 0),
#if defined(__NR_fork)
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 4, 0),
#else
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 4, 0),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 2),
        // clone's flags are its first argument (the low word holds CLONE_THREAD).
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    };
    struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
    if (fd < 0 && errno == EACCES) {  // without CAP_SYS_ADMIN a filter needs no_new_privs
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
        fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
    }
    if (fd < 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
    return fd;
}

static void send_fd(int socket, int fd) {
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    if (sendmsg(socket, &message, 0) != 1) die("sendmsg");
}

static int receive_fd(int socket) {
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
    if (recvmsg(socket, &message, 0) != 1) die("recvmsg");
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
    if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "jobsd-clone-fault: no listener received\n");
        exit(125);
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    return fd;
}

/// The thread group (process) thread `tid` belongs to, or -1 when it is gone.
static pid_t process_of(pid_t tid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *file = fopen(path, "re");
    if (file == NULL) return -1;
    char line[256];
    pid_t tgid = -1;
    while (fgets(line, sizeof line, file) != NULL) {
        if (sscanf(line, "Tgid: %d", &tgid) == 1) break;
    }
    fclose(file);
    return tgid;
}

/// Whether the notified call makes a process (not a thread). clone3's flags are the first
/// field of the struct its first argument points to, read from the caller's memory.
static int creates_process(int listener, const struct seccomp_notif *request) {
    if (request->data.nr != __NR_clone3) return 1;  // the filter sends only process-making clones
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", request->pid);
    int mem = open(path, O_RDONLY | O_CLOEXEC);
    if (mem < 0) return 0;
    uint64_t flags = 0;
    ssize_t n = pread(mem, &flags, sizeof flags, (off_t)request->data.args[0]);
    close(mem);
    // The request must still be pending, or the memory read may be another call's.
    __u64 id = request->id;
    if (n != (ssize_t)sizeof flags || ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return 0;
    return (flags & CLONE_THREAD) == 0;
}

static void supervise(int listener, pid_t target, const char *armed_file) {
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) die("seccomp(SECCOMP_GET_NOTIF_SIZES)");
    struct seccomp_notif *request = calloc(1, sizes.seccomp_notif);
    struct seccomp_notif_resp *response = calloc(1, sizes.seccomp_notif_resp);
    if (request == NULL || response == NULL) die("calloc");
    for (;;) {
        struct pollfd pfd = {.fd = listener, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (pfd.revents & (POLLHUP | POLLERR)) exit(0);  // no filtered process is left
        memset(request, 0, sizes.seccomp_notif);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, request) != 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            die("ioctl(SECCOMP_IOCTL_NOTIF_RECV)");
        }
        int refuse = access(armed_file, F_OK) == 0 && process_of(request->pid) == target && creates_process(listener, request);
        memset(response, 0, sizes.seccomp_notif_resp);
        response->id = request->id;
        if (refuse) {
            response->error = -ENOMEM;
            fprintf(stderr, "jobsd-clone-fault: syscall %d of thread %d refused with ENOMEM\n", request->data.nr, request->pid);
        } else {
            response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        }
        // ENOENT: the caller was interrupted or is gone; nothing to answer.
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response) != 0 && errno != ENOENT) die("ioctl(SECCOMP_IOCTL_NOTIF_SEND)");
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: jobsd-clone-fault ARMED_FILE -- COMMAND [ARG...]\n");
        return 2;
    }
    const char *armed_file = argv[1];
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) die("socketpair");
    pid_t target = getpid();
    pid_t supervisor = fork();
    if (supervisor < 0) die("fork");
    if (supervisor == 0) {
        close(pair[0]);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != target) exit(0);
        int listener = receive_fd(pair[1]);
        close(pair[1]);
        supervise(listener, target, armed_file);
    }
    close(pair[1]);
    int listener = install_filter();
    send_fd(pair[0], listener);
    close(listener);
    close(pair[0]);
    execvp(argv[3], argv + 3);
    die(argv[3]);
}
